"""Basic usage: an unmodified OpenAI-SDK script using the key pool through `keywheel serve`.

One question to the configured R1 chain (the `keywheel/chat` alias), the answer, which key and
model served it (the gateway's X-Keywheel-* headers), and today's usage per key afterwards.
No OpenRouter key is in this script's hands: it holds only the gateway's local token.

Run (with `keywheel serve` running; docs/gateway.md shows the offline set-up with keywheel-mock):

    export OPENAI_BASE_URL=http://127.0.0.1:8377/v1 OPENAI_API_KEY=$(keywheel serve --token)
    python examples/python/basic_usage.py
"""

from openai import OpenAI

from _common import need_gateway, print_usage, status

need_gateway()
client = OpenAI()

raw = client.chat.completions.with_raw_response.create(
    model="keywheel/chat",
    messages=[{"role": "user", "content": "Which is bigger, 9.11 or 9.9?"}],
)
answer = raw.parse()
print("answer:", answer.choices[0].message.content)
print(f"served by key {raw.headers.get('x-keywheel-key-id')} with {raw.headers.get('x-keywheel-model')}")
print(f"time spent in Keywheel: {raw.headers.get('x-keywheel-overhead-us')} µs")
u = answer.usage
cost = (u.model_extra or {}).get("cost")
print(f"tokens: {u.prompt_tokens} in, {u.completion_tokens} out; cost: {cost}")

print("today's usage:")
print_usage(status())
