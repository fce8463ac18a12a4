from google.api import annotations_pb2 as _annotations_pb2
from google.api import httpbody_pb2 as _httpbody_pb2
from protoc_gen_openapiv2.options import annotations_pb2 as _annotations_pb2_1
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AppliedStep(_message.Message):
    __slots__ = ["name", "parameters"]
    class ParametersEntry(_message.Message):
        __slots__ = ["key", "value"]
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    name: str
    parameters: _containers.ScalarMap[str, str]
    def __init__(self, name: _Optional[str] = ..., parameters: _Optional[_Mapping[str, str]] = ...) -> None: ...

class ColorHint(_message.Message):
    __slots__ = ["color", "points", "width_pixels"]
    COLOR_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    WIDTH_PIXELS_FIELD_NUMBER: _ClassVar[int]
    color: str
    points: _containers.RepeatedCompositeFieldContainer[Point]
    width_pixels: int
    def __init__(self, points: _Optional[_Iterable[_Union[Point, _Mapping]]] = ..., color: _Optional[str] = ..., width_pixels: _Optional[int] = ...) -> None: ...

class ColorizeRequest(_message.Message):
    __slots__ = ["dry_run", "hints", "image", "image_url", "output_format", "quality", "reference_image", "reference_image_url"]
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    HINTS_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    IMAGE_URL_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FORMAT_FIELD_NUMBER: _ClassVar[int]
    QUALITY_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_IMAGE_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_IMAGE_URL_FIELD_NUMBER: _ClassVar[int]
    dry_run: bool
    hints: _containers.RepeatedCompositeFieldContainer[ColorHint]
    image: bytes
    image_url: str
    output_format: str
    quality: int
    reference_image: bytes
    reference_image_url: str
    def __init__(self, image_url: _Optional[str] = ..., image: _Optional[bytes] = ..., output_format: _Optional[str] = ..., quality: _Optional[int] = ..., hints: _Optional[_Iterable[_Union[ColorHint, _Mapping]]] = ..., reference_image_url: _Optional[str] = ..., reference_image: _Optional[bytes] = ..., dry_run: bool = ...) -> None: ...

class ColorizeResponse(_message.Message):
    __slots__ = ["height_pixels", "image", "steps", "width_pixels"]
    HEIGHT_PIXELS_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    WIDTH_PIXELS_FIELD_NUMBER: _ClassVar[int]
    height_pixels: int
    image: _httpbody_pb2.HttpBody
    steps: _containers.RepeatedCompositeFieldContainer[AppliedStep]
    width_pixels: int
    def __init__(self, image: _Optional[_Union[_httpbody_pb2.HttpBody, _Mapping]] = ..., width_pixels: _Optional[int] = ..., height_pixels: _Optional[int] = ..., steps: _Optional[_Iterable[_Union[AppliedStep, _Mapping]]] = ...) -> None: ...

class ColorizeStreamRequest(_message.Message):
    __slots__ = ["request"]
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    request: ColorizeRequest
    def __init__(self, request: _Optional[_Union[ColorizeRequest, _Mapping]] = ...) -> None: ...

class ColorizeStreamResponse(_message.Message):
    __slots__ = ["data", "image"]
    DATA_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    image: StreamedImage
    def __init__(self, image: _Optional[_Union[StreamedImage, _Mapping]] = ..., data: _Optional[bytes] = ...) -> None: ...

class EnhanceRequest(_message.Message):
    __slots__ = ["dry_run", "enhancement_type", "image", "image_url", "output_format", "quality", "strength"]
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    ENHANCEMENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    IMAGE_URL_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FORMAT_FIELD_NUMBER: _ClassVar[int]
    QUALITY_FIELD_NUMBER: _ClassVar[int]
    STRENGTH_FIELD_NUMBER: _ClassVar[int]
    dry_run: bool
    enhancement_type: str
    image: bytes
    image_url: str
    output_format: str
    quality: int
    strength: float
    def __init__(self, image_url: _Optional[str] = ..., image: _Optional[bytes] = ..., enhancement_type: _Optional[str] = ..., output_format: _Optional[str] = ..., quality: _Optional[int] = ..., strength: _Optional[float] = ..., dry_run: bool = ...) -> None: ...

class EnhanceResponse(_message.Message):
    __slots__ = ["height_pixels", "image", "steps", "width_pixels"]
    HEIGHT_PIXELS_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    WIDTH_PIXELS_FIELD_NUMBER: _ClassVar[int]
    height_pixels: int
    image: _httpbody_pb2.HttpBody
    steps: _containers.RepeatedCompositeFieldContainer[AppliedStep]
    width_pixels: int
    def __init__(self, image: _Optional[_Union[_httpbody_pb2.HttpBody, _Mapping]] = ..., width_pixels: _Optional[int] = ..., height_pixels: _Optional[int] = ..., steps: _Optional[_Iterable[_Union[AppliedStep, _Mapping]]] = ...) -> None: ...

class EnhanceStreamRequest(_message.Message):
    __slots__ = ["request"]
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    request: EnhanceRequest
    def __init__(self, request: _Optional[_Union[EnhanceRequest, _Mapping]] = ...) -> None: ...

class EnhanceStreamResponse(_message.Message):
    __slots__ = ["data", "image"]
    DATA_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    image: StreamedImage
    def __init__(self, image: _Optional[_Union[StreamedImage, _Mapping]] = ..., data: _Optional[bytes] = ...) -> None: ...

class Point(_message.Message):
    __slots__ = ["x", "y"]
    X_FIELD_NUMBER: _ClassVar[int]
    Y_FIELD_NUMBER: _ClassVar[int]
    x: int
    y: int
    def __init__(self, x: _Optional[int] = ..., y: _Optional[int] = ...) -> None: ...

class StreamedImage(_message.Message):
    __slots__ = ["content_type", "height_pixels", "steps", "total_bytes", "width_pixels"]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_PIXELS_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_BYTES_FIELD_NUMBER: _ClassVar[int]
    WIDTH_PIXELS_FIELD_NUMBER: _ClassVar[int]
    content_type: str
    height_pixels: int
    steps: _containers.RepeatedCompositeFieldContainer[AppliedStep]
    total_bytes: int
    width_pixels: int
    def __init__(self, content_type: _Optional[str] = ..., total_bytes: _Optional[int] = ..., width_pixels: _Optional[int] = ..., height_pixels: _Optional[int] = ..., steps: _Optional[_Iterable[_Union[AppliedStep, _Mapping]]] = ...) -> None: ...

class UpscaleRequest(_message.Message):
    __slots__ = ["dry_run", "image", "image_url", "mode", "output_format", "quality", "scale_factor"]
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    IMAGE_URL_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FORMAT_FIELD_NUMBER: _ClassVar[int]
    QUALITY_FIELD_NUMBER: _ClassVar[int]
    SCALE_FACTOR_FIELD_NUMBER: _ClassVar[int]
    dry_run: bool
    image: bytes
    image_url: str
    mode: str
    output_format: str
    quality: int
    scale_factor: int
    def __init__(self, image_url: _Optional[str] = ..., image: _Optional[bytes] = ..., scale_factor: _Optional[int] = ..., output_format: _Optional[str] = ..., quality: _Optional[int] = ..., dry_run: bool = ..., mode: _Optional[str] = ...) -> None: ...

class UpscaleResponse(_message.Message):
    __slots__ = ["height_pixels", "image", "steps", "width_pixels"]
    HEIGHT_PIXELS_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    WIDTH_PIXELS_FIELD_NUMBER: _ClassVar[int]
    height_pixels: int
    image: _httpbody_pb2.HttpBody
    steps: _containers.RepeatedCompositeFieldContainer[AppliedStep]
    width_pixels: int
    def __init__(self, image: _Optional[_Union[_httpbody_pb2.HttpBody, _Mapping]] = ..., width_pixels: _Optional[int] = ..., height_pixels: _Optional[int] = ..., steps: _Optional[_Iterable[_Union[AppliedStep, _Mapping]]] = ...) -> None: ...

class UpscaleStreamRequest(_message.Message):
    __slots__ = ["request"]
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    request: UpscaleRequest
    def __init__(self, request: _Optional[_Union[UpscaleRequest, _Mapping]] = ...) -> None: ...

class UpscaleStreamResponse(_message.Message):
    __slots__ = ["data", "image"]
    DATA_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    image: StreamedImage
    def __init__(self, image: _Optional[_Union[StreamedImage, _Mapping]] = ..., data: _Optional[bytes] = ...) -> None: ...
