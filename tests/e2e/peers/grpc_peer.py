"""A real gRPC server and client (grpcio, no generated code: raw bytes methods) for harp's
end-to-end tests.

  grpc_peer.py serve CERT KEY         TLS server on 127.0.0.1, prints "port N", serves until killed
  grpc_peer.py call TARGET CA_PEM     unary + server-streaming calls; prints one JSON line

Methods (service harp.test.Echo):
  Unary:  request bytes b -> b"echo:" + b, trailing metadata x-trailer=unary
  Stream: request bytes n -> n messages b"item-<i>", trailing metadata x-trailer=stream
"""
import json
import sys
from concurrent import futures

import grpc

SERVICE = "harp.test.Echo"


def serve(cert, key):
    def unary(request, context):
        context.set_trailing_metadata((("x-trailer", "unary"),))
        return b"echo:" + request

    def stream(request, context):
        context.set_trailing_metadata((("x-trailer", "stream"),))
        for i in range(int(request or b"3")):
            yield b"item-%d" % i

    handler = grpc.method_handlers_generic_handler(
        SERVICE,
        {
            "Unary": grpc.unary_unary_rpc_method_handler(unary),
            "Stream": grpc.unary_stream_rpc_method_handler(stream),
        },
    )
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    server.add_generic_rpc_handlers((handler,))
    creds = grpc.ssl_server_credentials(
        ((open(key, "rb").read(), open(cert, "rb").read()),)
    )
    port = server.add_secure_port("127.0.0.1:0", creds)
    server.start()
    print("port %d" % port, flush=True)
    server.wait_for_termination()


def call(target, ca):
    creds = grpc.ssl_channel_credentials(root_certificates=open(ca, "rb").read())
    out = {}
    with grpc.secure_channel(target, creds) as channel:
        unary = channel.unary_unary("/%s/Unary" % SERVICE)
        reply, info = unary.with_call(b"hello", timeout=20)
        out["unary"] = reply.decode()
        out["unary_trailers"] = dict(info.trailing_metadata())
        stream = channel.unary_stream("/%s/Stream" % SERVICE)
        it = stream(b"4", timeout=20)
        out["stream"] = [m.decode() for m in it]
        out["stream_trailers"] = dict(it.trailing_metadata())
        out["code"] = str(it.code())
    print(json.dumps(out, sort_keys=True), flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        serve(sys.argv[2], sys.argv[3])
    else:
        call(sys.argv[2], sys.argv[3])
