"""The media layer of calls (issue 8): audio primitives now; the engine behind one small
interface (play, collect digits, bridge, record, monitor) is built on them."""
