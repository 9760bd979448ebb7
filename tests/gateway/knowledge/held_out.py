"""Held-out router prompts, English and Turkish, none of them in the seed set (``seed_intents``).

Used by ``bench/intent_router.py`` for accuracy and by the tests that compare embedding runtimes.
"""

from __future__ import annotations

HELD_OUT = {
    "general_chat": [
        "Can you suggest a nice gift for my mother's birthday?",
        "What are some fun things to do on a rainy day?",
        "Annemin doğum günü için güzel bir hediye önerir misin?",
        "How can I be more productive in the mornings?",
        "Bana bir fıkra anlat.",
    ],
    "turkish_culture": [
        "Türk çayı nasıl demlenir ve neden ince belli bardakta içilir?",
        "What is the story behind the Whirling Dervishes of Konya?",
        "Lokum nasıl yapılır, tarihi nedir?",
        "Tell me about the history of the Grand Bazaar in Istanbul.",
        "Nevruz Türkiye'de nasıl kutlanır?",
    ],
    "code_python": [
        "Python ile fibonacci fonksiyonu yaz",
        "Write a Python function that checks whether a string is a palindrome.",
        "Python'da bir sözlüğü JSON dosyasına nasıl yazarım?",
        "How do I use dataclasses in Python?",
        "Python ile bir web sayfasını indirip başlıkları çıkaran kod yaz.",
    ],
    "code_debug": [
        "Kodum ZeroDivisionError: division by zero hatası veriyor, nasıl düzeltirim?",
        "My script crashes with KeyError: 'user_id', what is wrong?",
        "Why does my for loop skip the last element?",
        "Fonksiyonum None döndürüyor, neden?",
        "ValueError: invalid literal for int() with base 10 hatası alıyorum.",
    ],
}
