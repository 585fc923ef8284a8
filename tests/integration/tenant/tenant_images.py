"""Test images for the tenant tests: FROM gpulab/debian12:latest with the tenant entrypoint.

The entrypoint is rendered from roles/tenant_image/templates/gpulab-entrypoint.sh.j2 (login user
root) when the tree has it, else the minimal stand-in next to this file is used.
"""

import os
import shlex
import subprocess
import tempfile

import jinja2

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
TEMPLATE = os.path.join(ROOT, "roles", "tenant_image", "templates", "gpulab-entrypoint.sh.j2")
MINIMAL = os.path.join(HERE, "gpulab-entrypoint.minimal.sh")
BASE = "gpulab/debian12:latest"
IMAGE = "gpulab-test-tenant/sshd"


def entrypoint_text():
    if os.path.exists(TEMPLATE):
        env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
        env.filters["quote"] = lambda value: shlex.quote(str(value))
        with open(TEMPLATE) as handle:
            return env.from_string(handle.read()).render(__tenant_image_item={"login_user": "root"}), TEMPLATE
    with open(MINIMAL) as handle:
        return handle.read(), MINIMAL


def build(tag, docker=("docker",), flavour="v1"):
    """Build IMAGE:tag (the flavour label makes v1 and v2 distinct images); return the image ID."""
    text, source = entrypoint_text()
    with tempfile.TemporaryDirectory(prefix="gpulab-test-tenant-img.") as ctx:
        with open(os.path.join(ctx, "gpulab-entrypoint"), "w") as handle:
            handle.write(text)
        # No RUN step (it would need a container network): COPY keeps the file mode.
        os.chmod(os.path.join(ctx, "gpulab-entrypoint"), 0o755)
        with open(os.path.join(ctx, "Dockerfile"), "w") as handle:
            handle.write(
                "FROM %s\n"
                "COPY gpulab-entrypoint /usr/local/sbin/gpulab-entrypoint\n"
                "LABEL gpulab.login-user=root gpulab.test-flavour=%s gpulab.test-entrypoint=%s\n"
                "EXPOSE 22\n"
                "ENTRYPOINT [\"/usr/local/sbin/gpulab-entrypoint\"]\n"
                "CMD [\"/usr/sbin/sshd\", \"-D\", \"-e\"]\n" % (BASE, flavour, os.path.basename(source)))
        env = dict(os.environ, DOCKER_BUILDKIT="0")
        subprocess.run(list(docker) + ["build", "-q", "-t", "%s:%s" % (IMAGE, tag), ctx],
                       check=True, env=env, stdout=subprocess.PIPE)
    out = subprocess.run(list(docker) + ["image", "inspect", "-f", "{{.Id}}", "%s:%s" % (IMAGE, tag)],
                         check=True, stdout=subprocess.PIPE, universal_newlines=True)
    return out.stdout.strip()
