"""Text processing with R1 through the pool: a short text is analysed (main claim, tone, key
terms, one weak point) as a streamed answer; the model's reasoning is printed as it arrives,
dimmed and prefixed with `┊`, apart from the answer that follows it.

Run (with `keywheel serve` running; docs/gateway.md shows the offline set-up):

    python examples/python/text_processing.py             # the paragraph below
    python examples/python/text_processing.py notes.txt   # a file of your own
"""

import sys

from openai import OpenAI

from _common import need_gateway

SAMPLE = (
    "Remote work did not kill the office; it killed the commute as the organising fact of the "
    "working day. Teams that thrived after 2020 were not the ones with the best video software "
    "but the ones that wrote things down: decisions, reasons, and who owns what. Writing is "
    "slower than talking, yet it scales across time zones and survives people leaving."
)

DIM, RESET = ("\x1b[2m", "\x1b[0m") if sys.stdout.isatty() else ("", "")

need_gateway()
text = open(sys.argv[1], encoding="utf-8").read() if len(sys.argv) > 1 else SAMPLE
if not text.strip():
    sys.exit("text_processing: the text is empty; give a file with some text in it")

client = OpenAI()
stream = client.chat.completions.create(
    model="keywheel/chat",
    stream=True,
    messages=[
        {"role": "system", "content": "You are a careful editor."},
        {
            "role": "user",
            "content": "Analyse this text: its main claim, its tone, three key terms, and one weak point.\n\n" + text,
        },
    ],
)

in_reasoning, at_line_start, usage, model = False, True, None, None
for chunk in stream:
    model = chunk.model or model
    if chunk.usage is not None:
        usage = chunk.usage
    if not chunk.choices:
        continue
    delta = chunk.choices[0].delta
    thought = getattr(delta, "reasoning", None)
    if thought:
        if not in_reasoning:
            print(DIM, end="")
            in_reasoning = True
        for ch in thought:
            if at_line_start:
                print("┊ ", end="")
            print(ch, end="")
            at_line_start = ch == "\n"
        sys.stdout.flush()
    if delta.content:
        if in_reasoning:
            print(RESET + "\n")
            in_reasoning = False
        print(delta.content, end="", flush=True)
print()
if usage is not None:
    extra = usage.model_extra or {}
    reasoning_tokens = (usage.completion_tokens_details.reasoning_tokens
                        if usage.completion_tokens_details else 0)
    print(f"— {model} · {usage.prompt_tokens}+{usage.completion_tokens} tokens "
          f"({reasoning_tokens} reasoning) · cost {extra.get('cost')}")
