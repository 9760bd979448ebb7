"""The OpenAI Responses API (``/v1/responses``), served by translating onto chat completions.

request.py   Responses request → chat completions body (what is mapped, ignored, refused)
response.py  the ``response`` object; chat.completion → response
stream.py    chat.completion.chunk stream → Responses streaming events
protocol.py  request structs and response builders (the wire format)
items.py     conversation items as stored and listed (``input_items``)
store.py     ResponseStore: stored responses, tenant-scoped, with retention and purge
service.py   ResponsesService: the above around ``ChatService.run``
settings.py  ``[responses]``

Backends that serve ``/v1/responses`` themselves are in ``backends/openai_responses.py``.
"""
