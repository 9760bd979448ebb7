"""The OpenAI Responses API (``POST /v1/responses``), served by translating onto chat completions.

request.py   Responses request → chat completions body (what is mapped, ignored, refused)
response.py  the ``response`` object; chat.completion → response
stream.py    chat.completion.chunk stream → Responses streaming events
protocol.py  request structs and response builders (the wire format)
service.py   ResponsesService: the above around ``ChatService.run``
"""

from gateway.responses.service import ResponsesOutcome, ResponsesService

__all__ = ["ResponsesOutcome", "ResponsesService"]
