#!/usr/bin/env python3
"""Enhance (or upscale) a photo over gRPC with the generated Python stubs.

    export SMART_IMAGE_ENHANCEMENT_API_KEY=sie_...
    export ENHANCE_CA=data/tls/ca.pem      # `make run`'s development CA
    python3 examples/python/enhance.py photo.jpg enhanced.png
    python3 examples/python/enhance.py --scale 4 photo.jpg big.png

Needs Debian's python3-grpcio and python3-protobuf; the stubs are in
gen/python (`make generate` writes them).

Message sizes: gRPC clients refuse answers over 4 MiB unless told
otherwise, and an image answer can be far larger (a x4 upscale of a 12 MP
photo is 190 MP). So this program shows both ways:
  - Enhance (unary) raises the channel's receive limit to the largest
    answer the server sends (MAX_ANSWER_BYTES);
  - --scale uses UpscaleStream, which answers in pieces of at most 1 MiB
    that a client at its default limit receives, written as they arrive.
Pass --stream to enhance through EnhanceStream too.
"""

import argparse
import os
import pathlib
import sys

# The generated stubs, from this repository, unless PYTHONPATH has them.
GEN = pathlib.Path(__file__).resolve().parents[2] / "gen" / "python"
if GEN.is_dir():
    sys.path.insert(0, str(GEN))

import grpc  # noqa: E402

from smartimage.enhance.v1 import image_pb2, image_pb2_grpc  # noqa: E402

# The largest answer the server sends (maxResponseBytes in
# internal/app/app.go): 64 megapixels as PNG fit in it.
MAX_ANSWER_BYTES = 256 << 20


def main():
    p = argparse.ArgumentParser(description="Enhance a photo over gRPC.")
    p.add_argument("input", help="the photo (JPEG, PNG or WebP)")
    p.add_argument("output", help="where to write the result")
    p.add_argument("--server", default=os.environ.get("ENHANCE_SERVER", "localhost:9443"),
                   help="gRPC host:port (ENHANCE_SERVER; default localhost:9443)")
    p.add_argument("--ca", default=os.environ.get("ENHANCE_CA"),
                   help="trust this CA certificate (PEM) instead of the system's (ENHANCE_CA)")
    p.add_argument("--scale", type=int, help="upscale by 2, 3 or 4 instead of enhancing (streamed)")
    p.add_argument("--stream", action="store_true", help="enhance through EnhanceStream")
    p.add_argument("--format", default="png", help="png, jpeg or webp (default png)")
    args = p.parse_args()

    key = os.environ.get("SMART_IMAGE_ENHANCEMENT_API_KEY")
    if not key:
        sys.exit("set SMART_IMAGE_ENHANCEMENT_API_KEY to your API key")
    root = pathlib.Path(args.ca).read_bytes() if args.ca else None
    channel = grpc.secure_channel(
        args.server,
        grpc.ssl_channel_credentials(root_certificates=root),
        options=[("grpc.max_receive_message_length", MAX_ANSWER_BYTES)],
    )
    stub = image_pb2_grpc.ImageServiceStub(channel)
    metadata = [("x-api-key", key)]
    try:
        image = pathlib.Path(args.input).read_bytes()
    except OSError as e:
        sys.exit(f"cannot read {args.input}: {e.strerror}")

    try:
        if args.scale:
            req = image_pb2.UpscaleRequest(image=image, scale_factor=args.scale, output_format=args.format)
            call = stub.UpscaleStream(image_pb2.UpscaleStreamRequest(request=req), metadata=metadata)
            desc = receive(call, args.output)
        elif args.stream:
            req = image_pb2.EnhanceRequest(image=image, output_format=args.format)
            call = stub.EnhanceStream(image_pb2.EnhanceStreamRequest(request=req), metadata=metadata)
            desc = receive(call, args.output)
        else:
            req = image_pb2.EnhanceRequest(image=image, output_format=args.format)
            resp, call = stub.Enhance.with_call(req, metadata=metadata)
            pathlib.Path(args.output).write_bytes(resp.image.data)
            desc = resp
    except grpc.RpcError as e:
        # The status says what went wrong: UNAUTHENTICATED (the key),
        # INVALID_ARGUMENT (the image or an option), RESOURCE_EXHAUSTED
        # (credits or the rate limit), ...
        sys.exit(f"{e.code().name}: {e.details()}")
    finally:
        channel.close()

    header = dict(call.initial_metadata())
    print(f"wrote {args.output}: {desc.width_pixels}x{desc.height_pixels}, "
          f"{header.get('x-credits-charged', '0')} credit(s) charged, "
          f"{header.get('x-credits-remaining', '?')} left")


def receive(call, output):
    """Writes a streamed image to output as its pieces arrive and returns
    the first piece's description of it."""
    desc, written = None, 0
    with open(output, "wb") as f:
        for piece in call:
            if desc is None:
                desc = piece.image
            written += f.write(piece.data)
    if desc is None or written != desc.total_bytes:
        sys.exit("the stream ended early")
    return desc


if __name__ == "__main__":
    main()
