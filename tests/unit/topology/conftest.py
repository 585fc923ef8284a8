# -*- coding: utf-8 -*-
"""Shared helpers for the topology and placement tests."""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import os

import pytest

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(__file__)), "fixtures", "topologies")


def fixture_text(name):
    with open(os.path.join(FIXTURES, name), encoding="utf-8") as handle:
        return handle.read()


def a100_lscpu():
    """The lscpu section of the DGX-A100 sample (the file holds lscpu, then topo -m)."""
    return fixture_text("dgx-a100-epyc7742.txt").split("## nvidia-smi topo -m")[0]


@pytest.fixture
def load():
    return fixture_text
