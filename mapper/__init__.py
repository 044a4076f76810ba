"""The declarative mapper: per-source YAML mappings (``mappings/``) turn agency records into canonical ones.

* ``spec``    – the mapping language (pydantic models of the YAML), documented there;
* ``loader``  – YAML with line numbers; every problem reported as ``file:line: key: message``;
* ``paths``, ``values`` – XPath / JMESPath, templates, transforms (dates, decimal comma, code tables);
* ``engine``  – one source record → canonical records, all or nothing;
* ``readers`` – the records of a payload: hardened streaming XML with per-record XSD checks, JSON pages.
"""

from mapper.engine import Deletion, MappedRecord, Mapping, RecordResult, load_mapping
from mapper.errors import MapperError, MappingSpecError, RecordMappingError

__all__ = [
    "Deletion",
    "MappedRecord",
    "MapperError",
    "Mapping",
    "MappingSpecError",
    "RecordMappingError",
    "RecordResult",
    "load_mapping",
]
