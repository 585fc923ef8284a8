# -*- coding: utf-8 -*-
# Copyright (c) 2026, gpulab.dgx maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The nvidia_facts module end to end, against a TEST DOUBLE nvidia-smi script that prints
real published outputs (see fixtures/README.md)."""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import os
import stat

import pytest

from ansible_collections.gpulab.dgx.plugins.modules import nvidia_facts

FIXTURES = os.path.join(os.path.dirname(__file__), 'fixtures')


def double_nvidia_smi(tmp_path, query_fixture, header_fixture, rc=0):
    """Write a TEST DOUBLE nvidia-smi: prints a fixture (minus its source line) and exits rc."""
    script = tmp_path / 'nvidia-smi'
    script.write_text(
        '#!/bin/sh\n'
        '# TEST DOUBLE of nvidia-smi for unit tests: prints stored real outputs.\n'
        'case "$1" in\n'
        '  --query-gpu=*) tail -n +2 "%s"; exit %d ;;\n'
        '  *) tail -n +2 "%s"; exit %d ;;\n'
        'esac\n' % (os.path.join(FIXTURES, query_fixture), rc, os.path.join(FIXTURES, header_fixture), rc))
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(script)


@pytest.fixture
def facts_of(run_module):
    """The module's facts, run through the shared in-process runner (tests/unit/conftest.py)."""
    def _facts(args):
        result = run_module(nvidia_facts, args)
        assert result['failed'] is False and result['changed'] is False, result
        return result['ansible_facts']['gpulab_nvidia']
    return _facts


def test_reads_gpus_through_nvidia_smi(tmp_path, facts_of):
    path = double_nvidia_smi(tmp_path, 'query-580-2x-a100.csv', 'header-580-cuda13-a100.txt')
    facts = facts_of({'source': 'nvidia-smi', 'nvidia_smi_path': path})
    assert facts['available'] is True
    assert facts['gpu_count'] == 2
    assert (facts['driver_version'], facts['cuda_version']) == ('580.126.09', '13.0')
    assert facts['persistence_mode_all'] is True


def test_driver_not_loaded_is_reported_not_failed(tmp_path, facts_of):
    path = double_nvidia_smi(tmp_path, 'failed-driver-not-loaded.txt', 'failed-driver-not-loaded.txt', rc=9)
    facts = facts_of({'source': 'nvidia-smi', 'nvidia_smi_path': path})
    assert facts['available'] is False
    assert facts['reason'] == 'driver_not_loaded'


def test_missing_nvidia_smi_is_reported(tmp_path, facts_of):
    facts = facts_of({'source': 'nvidia-smi', 'nvidia_smi_path': str(tmp_path / 'absent' / 'nvidia-smi')})
    assert facts['available'] is False
    assert facts['reason'] == 'nvidia_smi_missing'


def test_auto_falls_back_to_nvidia_smi_when_nvml_has_no_gpu(tmp_path, facts_of, monkeypatch):
    path = double_nvidia_smi(tmp_path, 'query-535-a10g-persistence-off.csv', 'header-535-cuda122-a10g.txt')
    # No pynvml on the host, as on a fresh DGX OS install.
    monkeypatch.setattr(nvidia_facts, 'HAS_PYNVML', False)
    facts = facts_of({'nvidia_smi_path': path})
    assert facts['source'] == 'nvidia-smi'
    assert facts['gpu_count'] == 1
    assert facts['persistence_mode_all'] is False


def test_nvml_only_without_pynvml_reports_nvml_missing(facts_of, monkeypatch):
    monkeypatch.setattr(nvidia_facts, 'HAS_PYNVML', False)
    facts = facts_of({'source': 'nvml'})
    assert facts['available'] is False
    assert facts['reason'] == 'nvml_missing'
