"""WebSocket peers for the e2e tests, with the `websockets` library.

    python3 ws.py server [CERT KEY]   prints "port N", then serves (wss with CERT/KEY):
        greets with "hello", answers a text with "echo: <text>", a binary with its bytes
        reversed, and "bye" by closing with code 4000, reason "done".
    python3 ws.py client URL [--ca CA] MESSAGE...
        connects (through HTTP(S)_PROXY, which websockets reads: CONNECT for ws:// and
        wss://), prints every message received as JSON lines ({"text": ...} or
        {"binary": hex}), sends each MESSAGE (a "bin:" prefix sends the rest as bytes),
        waiting (up to 2 s) for one answer each ({"silent": MESSAGE} when none comes),
        then prints {"close": code, "reason": ...}.
"""
import asyncio, json, ssl, sys

import websockets


async def serve(cert=None, key=None):
    async def handler(ws):
        await ws.send("hello")
        async for message in ws:
            if message == "bye":
                await ws.close(4000, "done")
                return
            if isinstance(message, bytes):
                await ws.send(message[::-1])
            else:
                await ws.send("echo: " + message)

    context = None
    if cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
    async with websockets.serve(handler, "127.0.0.1", 0, ssl=context, compression="deflate") as server:
        port = server.sockets[0].getsockname()[1]
        print("port", port, flush=True)
        await asyncio.Future()


def show(message):
    if isinstance(message, bytes):
        print(json.dumps({"binary": message.hex()}), flush=True)
    else:
        print(json.dumps({"text": message}), flush=True)


async def client(url, ca, messages):
    context = None
    if url.startswith("wss:"):
        context = ssl.create_default_context(cafile=ca)
    async with websockets.connect(url, ssl=context, open_timeout=10) as ws:
        show(await asyncio.wait_for(ws.recv(), 10))
        for m in messages:
            await ws.send(bytes.fromhex(m[4:]) if m.startswith("bin:") else m)
            try:
                show(await asyncio.wait_for(ws.recv(), 2))
            except asyncio.TimeoutError:
                print(json.dumps({"silent": m}), flush=True)
            except websockets.ConnectionClosed:
                break
        if ws.close_code is None:
            await ws.close(1000, "client done")
        print(json.dumps({"close": ws.close_code, "reason": ws.close_reason}), flush=True)


if sys.argv[1] == "server":
    asyncio.run(serve(*sys.argv[2:4]))
else:
    args = sys.argv[2:]
    url = args.pop(0)
    ca = None
    if args and args[0] == "--ca":
        ca = args[1]
        args = args[2:]
    asyncio.run(client(url, ca, args))
