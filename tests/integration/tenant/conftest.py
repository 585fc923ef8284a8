"""Fixtures for the tenant module's integration tests against a real dockerd (helpers: tenant_helpers)."""

import subprocess

import pytest

import tenant_images
from tenant_helpers import HOST_ULIMITS, IMAGE_V1, NETWORK, PREFIX, cpu_topology, remove_test_containers


@pytest.fixture(scope="session")
def ssh_key(tmp_path_factory):
    path = tmp_path_factory.mktemp("ssh") / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "tenant-test", "-f", str(path)],
                   check=True)
    return {"private": str(path), "public": (path.parent / "id_ed25519.pub").read_text().strip()}


@pytest.fixture(scope="session")
def tenant_images_built(docker_client):
    return {"v1": tenant_images.build("v1"), "v2": tenant_images.build("v2", flavour="v2")}


@pytest.fixture(scope="session")
def tenant_network(docker_client):
    """A user-defined bridge of our own: tests do not depend on the default docker0 bridge."""
    existing = docker_client.networks.list(names=[NETWORK])
    network = existing[0] if existing else docker_client.networks.create(NETWORK, driver="bridge")
    yield NETWORK
    remove_test_containers(docker_client)
    if not existing:
        network.remove()


@pytest.fixture
def tenant_host(docker_client, tenant_images_built, tenant_network, ssh_key, tmp_path):
    """Per-test lock file and data base (<tmp>/tenants); the test's containers are removed afterwards.
    A tenant's data directory is data_dir(args)."""
    data_base = tmp_path / "tenants"

    def args(name, **over):
        base = {
            "name": PREFIX + name,
            "image": IMAGE_V1,
            "cpus": 1,
            "memory": "64M",
            "ssh_public_keys": [ssh_key["public"]],
            "ssh_bind_address": "127.0.0.1",
            "network": tenant_network,
            "data_base": str(data_base),
            "lock_path": str(tmp_path / "tenant.lock"),
            "topology": cpu_topology(),
            # memlock within this host's dockerd's own limit (tenant_helpers.HOST_ULIMITS).
            "ulimits": dict(HOST_ULIMITS),
        }
        base.update(over)
        return base

    yield args
    remove_test_containers(docker_client)


@pytest.fixture(scope="session")
def gpu_host(gpu_dockerd, tenant_images_built):
    """The GPU test dockerd (hook TEST DOUBLE on its PATH) with the tenant images and a network."""
    gpu_dockerd.load_image(IMAGE_V1)
    gpu_dockerd.load_image(tenant_images.IMAGE + ":v2")
    # Another directory's conftest may load this fixture under its own name (tests/integration/metrics):
    # the network is then already there, and is used as it is.
    present = subprocess.run(gpu_dockerd.cli + ["network", "inspect", NETWORK], check=False,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if present.returncode != 0:
        subprocess.run(gpu_dockerd.cli + ["network", "create", NETWORK], check=True, stdout=subprocess.DEVNULL)
    return gpu_dockerd


@pytest.fixture
def gpu_containers(gpu_host):
    """A Docker client of the GPU test dockerd; the test's containers there (named PREFIX...) are removed after it."""
    import docker
    client = docker.DockerClient(base_url=gpu_host.host, version="auto")
    yield client
    for container in client.containers.list(all=True):
        if container.name.startswith(PREFIX):
            container.remove(force=True)
    client.close()
