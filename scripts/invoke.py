"""Invoke the predict Lambda handler the way Lambda does, without Docker.

    python -m scripts.invoke infra/events/predict.json [more events...]
    python -m scripts.invoke --artifact .aws-sam/build/PredictFunction --python python3.13 infra/events/*.json

Like ``sam local invoke``: a fresh process per run (a cold container), the function's
environment taken from template.yaml (parameter defaults resolved) and overridden by an env
file in SAM's ``--env-vars`` format (default infra/env.local.json: the repo's models/ folder),
the handler imported by its template name, and a Lambda-like context. With ``--artifact``
the code comes only from the built artifact plus the standard library (``python -S``), which
proves the artifact is self-contained. Prints each response; exits non-zero if the handler
raises or returns something Lambda could not serialise.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CHILD = r"""
import json, sys, importlib, time
code_root, repo_root, handler_path, *events = sys.argv[1:]
sys.path[:0] = [code_root]
sys.path.append(repo_root)  # only for infra.apigw (stdlib-only); the code root wins for everything else
from infra.apigw import LambdaContext
module_name, _, attr = handler_path.rpartition(".")
start = time.perf_counter()
handler = getattr(importlib.import_module(module_name), attr)
init_ms = (time.perf_counter() - start) * 1000
failed = False
for path in events:
    event = json.loads(open(path, encoding="utf-8").read())
    context = LambdaContext(function_name=%(name)r, memory_limit_in_mb=%(memory)d, timeout_seconds=%(timeout)d)
    start = time.perf_counter()
    try:
        response = handler(event, context)
        json.dumps(response)  # Lambda must be able to serialise what the handler returns
        ok = isinstance(response, dict) and isinstance(response.get("statusCode"), int)
    except Exception as exc:
        response, ok = {"invokeError": f"{type(exc).__name__}: {exc}"}, False
    failed |= not ok
    ms = (time.perf_counter() - start) * 1000
    print(json.dumps({"event": path.rsplit("/", 1)[-1], "duration_ms": round(ms, 2), "init_ms": round(init_ms, 2), "response": response}))
    init_ms = 0.0
sys.exit(1 if failed else 0)
"""


def _yaml_loader():
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    def tag(name: str):
        def construct(loader, node):
            if isinstance(node, yaml.ScalarNode):
                value = loader.construct_scalar(node)
                return {name: value.split(".") if name == "Fn::GetAtt" else value}
            if isinstance(node, yaml.SequenceNode):
                return {name: loader.construct_sequence(node, deep=True)}
            return {name: loader.construct_mapping(node, deep=True)}

        return construct

    for short in ("Ref", "Sub", "If", "Equals", "GetAtt", "Join", "Select", "Split", "Not", "And", "Or"):
        Loader.add_constructor(f"!{short}", tag(short if short == "Ref" else f"Fn::{short}"))
    return Loader


def template_function(template: Path, function: str) -> tuple[dict, dict[str, Any], dict]:
    """(function properties, parameter values, conditions) from a SAM template."""
    import yaml

    doc = yaml.load(template.read_text(), Loader=_yaml_loader())  # noqa: S506 - SafeLoader subclass
    params = {k: v.get("Default", "") for k, v in doc.get("Parameters", {}).items()}
    try:
        props = doc["Resources"][function]["Properties"]
    except KeyError:
        raise SystemExit(f"error: {template} has no function {function!r}") from None
    return props, params, doc.get("Conditions", {})


def resolve(value: Any, params: dict, conditions: dict) -> Any:
    """Evaluate the intrinsic functions an Environment block uses, with parameter defaults."""
    pseudo = {
        "AWS::Region": os.environ.get("AWS_REGION", "us-east-1"),
        "AWS::Partition": "aws",
        "AWS::URLSuffix": "amazonaws.com",
    }
    if isinstance(value, dict) and len(value) == 1:
        ((key, arg),) = value.items()
        if key == "Ref":
            return params.get(arg, pseudo.get(arg, f"<{arg}>"))
        if key == "Fn::Sub":
            import re

            return re.sub(r"\$\{([^}]+)\}", lambda m: str(params.get(m[1], pseudo.get(m[1], f"<{m[1]}>"))), arg)
        if key == "Fn::If":
            name, yes, no = arg
            return resolve(yes if resolve(conditions[name], params, conditions) else no, params, conditions)
        if key == "Fn::Equals":
            a, b = (resolve(x, params, conditions) for x in arg)
            return a == b
    if isinstance(value, (int, float)):
        return str(value)
    return value


def function_environment(args: argparse.Namespace) -> tuple[dict[str, str], dict]:
    props, params, conditions = template_function(args.template, args.function)
    variables = props.get("Environment", {}).get("Variables", {})
    env = {k: str(resolve(v, params, conditions)) for k, v in variables.items()}
    if args.env_file:
        overrides = json.loads(Path(args.env_file).read_text())
        env.update({k: str(v) for k, v in overrides.get(args.function, overrides.get("Parameters", {})).items()})
    for pair in args.env:
        key, sep, val = pair.partition("=")
        if not sep:
            raise SystemExit(f"error: --env takes KEY=VALUE, got {pair!r}")
        env[key] = val
    store = env.get("MODEL_STORE", "")
    if store and "://" not in store and not os.path.isabs(store):
        env["MODEL_STORE"] = str(ROOT / store)  # Lambda's cwd is the code root; anchor local stores at the repo
    return env, props


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m scripts.invoke", description=__doc__.split("\n\n")[0])
    p.add_argument("events", nargs="+", type=Path, help="API Gateway event JSON files")
    p.add_argument("--template", type=Path, default=ROOT / "template.yaml")
    p.add_argument("--function", default="PredictFunction")
    p.add_argument("--env-file", default=str(ROOT / "infra" / "env.local.json"), help="SAM --env-vars style JSON")
    p.add_argument("--env", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--artifact", type=Path, help="run the code of a built artifact (sam build output)")
    p.add_argument("--python", default=sys.executable, help="interpreter to run the handler under")
    args = p.parse_args(argv)
    for event in args.events:
        if not event.is_file():
            raise SystemExit(f"error: no event file {event}")
    env, props = function_environment(args)
    code_root = args.artifact.resolve() if args.artifact else ROOT
    child_env = {k: v for k, v in os.environ.items() if k.startswith(("AWS_", "PATH", "HOME", "LANG"))}
    child_env.update(env)
    memory, timeout = int(props.get("MemorySize", 128)), int(props.get("Timeout", 3))
    child_env.update(
        {
            "AWS_LAMBDA_FUNCTION_NAME": args.function,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{props.get('Runtime', 'python')}",
            "AWS_REGION": os.environ.get("AWS_REGION", "us-east-1"),
            "LAMBDA_TASK_ROOT": str(code_root),
            "_HANDLER": props["Handler"],
            "TZ": ":UTC",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
    )
    code = CHILD % {"name": args.function, "memory": memory, "timeout": timeout}
    flags = ["-S"] if args.artifact else []  # -S: no site-packages, so only the artifact can supply imports
    cmd = [
        args.python,
        *flags,
        "-c",
        code,
        str(code_root),
        str(ROOT),
        props["Handler"],
        *(str(e.resolve()) for e in args.events),
    ]
    return subprocess.run(cmd, cwd=code_root, env=child_env, check=False).returncode  # noqa: S603 - our own argv


if __name__ == "__main__":
    sys.exit(main())
