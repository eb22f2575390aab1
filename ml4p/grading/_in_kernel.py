"""What each proxy call runs in the student's kernel: one call, data in and data out.

Kernel-side code, kept in a file of its own so that editors and linters see it: it is not
imported, but read as text by ``proxy.py`` and sent with every request. The kernel executes
it, then ``_ml4p_call(_REQUEST)``, in a fresh namespace holding only ``_REQUEST`` (the
request, JSON text). So it relies on nothing of ml4p or of the notebook, imports inside the
function, and leaves nothing in the notebook's namespace.
"""


def _ml4p_call(request_json):
    import base64
    import io
    import json
    import signal

    import numpy as np
    from IPython import get_ipython
    from IPython.display import display

    request = json.loads(request_json)
    missing = object()
    modules = {}

    def publish(result):
        display({request["mime"]: result}, raw=True)

    def tf():
        if "tf" not in modules:
            import tensorflow
            modules["tf"] = tensorflow
        return modules["tf"]

    def message(error):
        try:
            return f"{type(error).__name__}: {error}"[:2000]
        except Exception:
            return type(error).__name__

    def decode(node):
        kind = node["k"]
        if kind == "npy":
            value = np.load(io.BytesIO(base64.b64decode(node["b"])), allow_pickle=False)
            return value[()] if node["scalar"] else value
        if kind == "py":
            return node["v"]
        if kind == "float":
            return float.fromhex(node["v"])
        if kind == "complex":
            return complex(float.fromhex(node["re"]), float.fromhex(node["im"]))
        if kind == "code":
            return trusted("code", node["src"],
                           lambda: eval(node["src"], {"tf": tf(), "np": np, "__name__": "ml4p_grader"}))
        items = [decode(item) for item in node["items"]]
        return tuple(items) if kind == "tuple" else items

    class Unusable(Exception):
        pass

    def encode(value, size):
        if isinstance(value, (tuple, list)):
            return [encode(item, size) for item in value]
        if value is None:
            raise Unusable("returned None (is a `return` missing?)")
        array = np.asarray(value.numpy() if hasattr(value, "numpy") else value)
        if array.dtype.hasobject or array.dtype.kind not in "biufc":
            what = (f"an array of dtype {array.dtype}" if isinstance(value, np.ndarray)
                    else f"a value of type {type(value).__name__}")
            raise Unusable(f"returned {what}, not numbers")
        buffer = io.BytesIO()
        np.save(buffer, array, allow_pickle=False)
        size.append(buffer.tell())
        if sum(size) > request["limit"]:
            raise Unusable(f"returned more than {request['limit'] >> 20} MB")
        return base64.b64encode(buffer.getvalue()).decode("ascii")

    shell = get_ipython()
    namespace = shell.user_ns
    name = request["name"]
    made = getattr(shell, "_ml4p_trusted_objects", None)  # (kind, source, signature) -> object
    if type(made) is not dict:
        made = {}
        try:
            shell._ml4p_trusted_objects = made
        except Exception:
            pass

    def trusted(kind, source, make):
        """The object made from trusted `source` for calls with this request's argument types."""
        key = (kind, source, request["signature"])
        if key not in made:
            made[key] = make()
        return made[key]

    def run_source(source):
        scope = {"tf": tf(), "np": np, "__name__": "ml4p_grader"}
        exec(source, scope)
        return scope

    if request["mode"] == "defined":
        return publish({"ok": True, "values": [encode(callable(namespace.get(name)), [])],
                        "tuple": False})
    saved = {}
    try:
        for used, source in request["uses"].items():
            try:
                replacement = trusted("uses", source, lambda source=source: run_source(source))[used]
            except Exception as error:
                return publish({"ok": False, "bad": True,
                                "error": f"grader code for `{used}` failed: {message(error)}"})
            saved[used] = namespace.get(used, missing)
            namespace[used] = replacement
        function = namespace.get(name, missing)
        if function is missing:
            return publish({"ok": False, "error": f"`{name}` is not defined — did you run its cell?"})
        if not callable(function):
            return publish({"ok": False,
                            "error": f"`{name}` is a {type(function).__name__}, not a function"})
        if saved and hasattr(function, "python_function"):
            # a trace of its own: the notebook's captured the student's globals
            python_function = function.python_function
            key = ("wrap", json.dumps([name, request["uses"]], sort_keys=True), request["signature"])
            wrapped = made.get(key)
            if not (type(wrapped) is tuple and len(wrapped) == 2 and wrapped[0] is python_function):
                wrapped = made[key] = (python_function, tf().function(
                    python_function, input_signature=getattr(function, "input_signature", None)))
            function = wrapped[1]
        args = decode(request["args"])
        kwargs = {key: decode(node) for key, node in request["kwargs"].items()}
        try:
            value = function(*args, **kwargs)
        except (Exception, SystemExit) as error:
            return publish({"ok": False, "error": message(error)})
        try:
            is_tuple = isinstance(value, (tuple, list))
            values = encode(value, []) if is_tuple else [encode(value, [])]
        except Unusable as error:
            return publish({"ok": False, "bad": True, "error": f"`{name}` {error}"})
        except Exception as error:
            return publish({"ok": False, "bad": True,
                            "error": f"`{name}` returned something unusable: {message(error)}"})
        return publish({"ok": True, "values": values, "tuple": is_tuple})
    finally:
        if saved:  # restore the student's globals, even if interrupted meanwhile
            pending = []
            previous = signal.signal(signal.SIGINT, lambda *_: pending.append(1))
            try:
                for used, old in saved.items():
                    if old is missing:
                        namespace.pop(used, None)
                    else:
                        namespace[used] = old
            finally:
                signal.signal(signal.SIGINT, previous)
            if pending:
                raise KeyboardInterrupt
