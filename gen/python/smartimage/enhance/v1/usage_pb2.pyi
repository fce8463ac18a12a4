from google.api import annotations_pb2 as _annotations_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from protoc_gen_openapiv2.options import annotations_pb2 as _annotations_pb2_1
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GetPricingRequest(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class GetPricingResponse(_message.Message):
    __slots__ = ["plans", "prices"]
    PLANS_FIELD_NUMBER: _ClassVar[int]
    PRICES_FIELD_NUMBER: _ClassVar[int]
    plans: _containers.RepeatedCompositeFieldContainer[Plan]
    prices: _containers.RepeatedCompositeFieldContainer[Price]
    def __init__(self, plans: _Optional[_Iterable[_Union[Plan, _Mapping]]] = ..., prices: _Optional[_Iterable[_Union[Price, _Mapping]]] = ...) -> None: ...

class GetUsageRequest(_message.Message):
    __slots__ = ["page_size", "page_token"]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class GetUsageResponse(_message.Message):
    __slots__ = ["credits_granted", "credits_remaining", "credits_used", "entries", "next_page_token", "period_end", "period_start", "plan"]
    CREDITS_GRANTED_FIELD_NUMBER: _ClassVar[int]
    CREDITS_REMAINING_FIELD_NUMBER: _ClassVar[int]
    CREDITS_USED_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    PERIOD_END_FIELD_NUMBER: _ClassVar[int]
    PERIOD_START_FIELD_NUMBER: _ClassVar[int]
    PLAN_FIELD_NUMBER: _ClassVar[int]
    credits_granted: int
    credits_remaining: int
    credits_used: int
    entries: _containers.RepeatedCompositeFieldContainer[LedgerEntry]
    next_page_token: str
    period_end: _timestamp_pb2.Timestamp
    period_start: _timestamp_pb2.Timestamp
    plan: str
    def __init__(self, period_start: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., period_end: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., plan: _Optional[str] = ..., credits_granted: _Optional[int] = ..., credits_used: _Optional[int] = ..., credits_remaining: _Optional[int] = ..., entries: _Optional[_Iterable[_Union[LedgerEntry, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class LedgerEntry(_message.Message):
    __slots__ = ["credits", "key", "kind", "operation", "period_start", "reason", "request_id", "state", "time"]
    CREDITS_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    OPERATION_FIELD_NUMBER: _ClassVar[int]
    PERIOD_START_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    credits: int
    key: str
    kind: str
    operation: str
    period_start: _timestamp_pb2.Timestamp
    reason: str
    request_id: str
    state: str
    time: _timestamp_pb2.Timestamp
    def __init__(self, kind: _Optional[str] = ..., key: _Optional[str] = ..., operation: _Optional[str] = ..., credits: _Optional[int] = ..., state: _Optional[str] = ..., request_id: _Optional[str] = ..., time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., period_start: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., reason: _Optional[str] = ...) -> None: ...

class Plan(_message.Message):
    __slots__ = ["monthly_credits", "name", "requests_per_minute"]
    MONTHLY_CREDITS_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    REQUESTS_PER_MINUTE_FIELD_NUMBER: _ClassVar[int]
    monthly_credits: int
    name: str
    requests_per_minute: int
    def __init__(self, name: _Optional[str] = ..., monthly_credits: _Optional[int] = ..., requests_per_minute: _Optional[int] = ...) -> None: ...

class Price(_message.Message):
    __slots__ = ["credits", "operation", "unit"]
    CREDITS_FIELD_NUMBER: _ClassVar[int]
    OPERATION_FIELD_NUMBER: _ClassVar[int]
    UNIT_FIELD_NUMBER: _ClassVar[int]
    credits: int
    operation: str
    unit: str
    def __init__(self, operation: _Optional[str] = ..., credits: _Optional[int] = ..., unit: _Optional[str] = ...) -> None: ...
