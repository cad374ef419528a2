"""An OpenAI-compatible loopback server over llama-cpp-python, for an A/B of the reply format
(docs/QUALITY.md, "The command in a code block"). It was written for prompt `command-v4`:
`json` keeps that prompt ({"cmd": "..."} replies, the prefix forced, a JSON-string grammar);
`fence` rewrites its system prompt and example answers into ```bash code blocks and generates
the command as plain text up to the closing fence. Answers go back to cmdai as {"cmd": "..."}
either way, so `cmdai eval --backend openai` runs the same checks, trials and repairs on both.
An experiment's tool, not part of the product:

    python3 scripts/reply-format-proxy.py fence MODEL.gguf 8093 &
    cmdai -v eval eval/tasks/dev.jsonl --exec --backend openai \
        --remote-url http://127.0.0.1:8093/v1 -o json > fence.json
"""
import json, re, sys
from http.server import BaseHTTPRequestHandler, HTTPServer
from llama_cpp import Llama, LlamaGrammar

mode, model, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
llm = Llama(model_path=model, n_ctx=4096, n_threads=2, n_batch=512, verbose=False)
JSON_GRAMMAR = LlamaGrammar.from_string(r'''
root ::= ch+ "\"}"
ch ::= [^"\\\x00-\x1f] | "\\" [^\x00-\x1f]
''', verbose=False)
FENCE_GRAMMAR = LlamaGrammar.from_string(r'''
root ::= line ("\n" line)* "\n```"
line ::= [^\n]+
''', verbose=False)
FENCE = "```bash\n"


def to_fence(messages):
    out = []
    for m in messages:
        content = m["content"]
        if m["role"] == "system":
            content = re.sub(r'Reply with JSON only: \{"cmd": "<command>"\}\.',
                             "Reply with the command alone in a ```bash code block.", content)
        elif m["role"] == "assistant":
            try:
                content = FENCE + json.loads(content)["cmd"] + "\n```"
            except Exception:
                pass
        out.append({"role": m["role"], "content": content})
    return out


def chat(messages, prefix):
    text = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)
    return text + "<|im_start|>assistant\n" + prefix


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def reply(self, body):
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self.reply({"object": "list", "data": [{"id": "qwen", "object": "model"}]})

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        messages = body["messages"]
        temperature = body.get("temperature", 0) or 0
        kwargs = dict(max_tokens=body.get("max_tokens", 256), temperature=temperature,
                      top_p=body.get("top_p", 0.95), seed=body.get("seed", 42))
        if temperature == 0:
            kwargs.update(top_k=1)
        if mode == "fence":
            prompt = chat(to_fence(messages), FENCE)
            out = llm.create_completion(prompt, grammar=FENCE_GRAMMAR, **kwargs)
            text = out["choices"][0]["text"]
            finish = out["choices"][0]["finish_reason"]
            command = text.split("\n```")[0].strip()
            content = json.dumps({"cmd": command}) if finish == "stop" or text.endswith("```") else text
        else:
            prompt = chat(messages, '{"cmd": "')
            out = llm.create_completion(prompt, grammar=JSON_GRAMMAR, **kwargs)
            text = out["choices"][0]["text"]
            finish = out["choices"][0]["finish_reason"]
            content = '{"cmd": "' + text
        self.reply({
            "id": "x", "object": "chat.completion", "model": "qwen",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                         "finish_reason": finish}],
            "usage": out["usage"],
        })


HTTPServer(("127.0.0.1", port), Handler).serve_forever()
