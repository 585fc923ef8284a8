# -*- coding: utf-8 -*-
"""Helpers shared by the tenant image tests (a uniquely named module: every test area has its
own conftest.py, so tests must not import from "conftest")."""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import io
import os

import docker

__all__ = ["LOCAL_BASE", "build_base", "docker"]

LOCAL_BASE = os.environ.get("GPULAB_TEST_BASE_IMAGE", "gpulab/debian12:latest")


def build_base(client, ref, generation, run_id):
    """A run-private base: the local Debian image plus a label that changes its id."""
    dockerfile = "FROM %s\nLABEL gpulab.test-run=%s gpulab.test-base-generation=%s\n" % (
        LOCAL_BASE, run_id, generation)
    image = client.images.build(fileobj=io.BytesIO(dockerfile.encode()), tag=ref, rm=True,
                                network_mode="none", pull=False)[0]
    return image
