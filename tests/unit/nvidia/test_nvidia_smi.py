# -*- coding: utf-8 -*-
# Copyright (c) 2026, gpulab.dgx maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Parsing of real nvidia-smi outputs and the NVML reader (with a fake pynvml)."""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import os

import pytest

from ansible_collections.gpulab.dgx.plugins.module_utils.nvidia import smi as nvidia_smi

FIXTURES = os.path.join(os.path.dirname(__file__), 'fixtures')


def fixture(name):
    """A sample without its first (source) line."""
    with open(os.path.join(FIXTURES, name)) as handle:
        return handle.read().split('\n', 1)[1]


@pytest.mark.parametrize('name, driver, cuda', [
    ('header-580-cuda13-a100.txt', '580.126.09', '13.0'),
    ('header-535-cuda122-a10g.txt', '535.247.01', '12.2'),
    ('header-450-cuda110-titanxp.txt', '450.57', '11.0'),
    ('header-331-no-cuda.txt', '331.62', None),
    ('q-470-cuda114-a100.txt', '470.103.01', '11.4'),
])
def test_parse_header_reads_driver_and_cuda(name, driver, cuda):
    assert nvidia_smi.parse_header(fixture(name)) == {'driver_version': driver, 'cuda_version': cuda}


def test_parse_header_of_failure_text_finds_nothing():
    assert nvidia_smi.parse_header(fixture('failed-driver-not-loaded.txt')) == {
        'driver_version': None, 'cuda_version': None}


def test_parse_query_gpu_two_a100():
    gpus = nvidia_smi.parse_query_gpu(fixture('query-580-2x-a100.csv'))
    assert [gpu['index'] for gpu in gpus] == [0, 1]
    assert gpus[0] == {
        'index': 0,
        'uuid': 'GPU-0b5c2b7e-1f0e-4f5a-9c1e-3a1d2e4f5a60',
        'name': 'NVIDIA A100-SXM4-40GB',
        'pci_bus_id': '00000000:10:1C.0',
        'driver_version': '580.126.09',
        'persistence_mode': True,
        'memory_total_mib': 40960,
        'mig_mode': False,
    }


def test_parse_query_gpu_persistence_off_and_na_mig():
    (gpu,) = nvidia_smi.parse_query_gpu(fixture('query-535-a10g-persistence-off.csv'))
    assert gpu['persistence_mode'] is False
    assert gpu['mig_mode'] is None
    assert gpu['memory_total_mib'] == 23028


def test_parse_query_gpu_orders_by_index_and_skips_blank_lines():
    text = fixture('query-580-2x-a100.csv').splitlines()
    gpus = nvidia_smi.parse_query_gpu('\n'.join([text[1], '', text[0], '']))
    assert [gpu['index'] for gpu in gpus] == [0, 1]


@pytest.mark.parametrize('line', [
    '0, GPU-x, NVIDIA A10G',  # too few cells
    'GPU0, GPU-x, NVIDIA A10G, 00000000:00:1E.0, 535.247.01, Disabled, 23028, [N/A]',  # index not an int
])
def test_parse_query_gpu_rejects_unexpected_lines(line):
    with pytest.raises(nvidia_smi.NvidiaSmiError) as err:
        nvidia_smi.parse_query_gpu(line)
    assert err.value.reason == 'parse'


@pytest.mark.parametrize('text, reason', [
    (None, 'failed'),
    ('No devices were found', 'no_devices'),
    ('Failed to initialize NVML: Driver/library version mismatch', 'version_mismatch'),
    ('NVIDIA-SMI couldn\'t find libnvidia-ml.so library in your system.', 'nvml_missing'),
    ('something else', 'failed'),
])
def test_classify_failure(text, reason):
    assert nvidia_smi.classify_failure(text, rc=9)[0] == reason


def test_classify_failure_of_real_driver_not_loaded_text():
    reason, message = nvidia_smi.classify_failure(fixture('failed-driver-not-loaded.txt'), rc=9)
    assert reason == 'driver_not_loaded'
    assert 'kernel module is not loaded' in message


@pytest.mark.parametrize('value, text', [(12020, '12.2'), (13000, '13.0'), (11040, '11.4'), (12080, '12.8')])
def test_cuda_version_from_int(value, text):
    assert nvidia_smi.cuda_version_from_int(value) == text


def fake_run(outputs):
    calls = []

    def run(args):
        calls.append(list(args))
        return outputs[tuple(args)]
    return run, calls


def test_read_nvidia_smi_combines_query_and_header():
    run, calls = fake_run({
        tuple(nvidia_smi.QUERY_ARGS): (0, fixture('query-580-2x-a100.csv'), ''),
        (): (0, fixture('header-580-cuda13-a100.txt'), ''),
    })
    facts = nvidia_smi.read_nvidia_smi(run)
    assert calls == [nvidia_smi.QUERY_ARGS, []]
    assert facts['available'] is True
    assert facts['source'] == 'nvidia-smi'
    assert (facts['driver_version'], facts['cuda_version'], facts['gpu_count']) == ('580.126.09', '13.0', 2)
    assert facts['persistence_mode_all'] is True
    assert facts['reason'] is None


def test_read_nvidia_smi_persistence_off_is_reported():
    run, _calls = fake_run({
        tuple(nvidia_smi.QUERY_ARGS): (0, fixture('query-535-a10g-persistence-off.csv'), ''),
        (): (0, fixture('header-535-cuda122-a10g.txt'), ''),
    })
    facts = nvidia_smi.read_nvidia_smi(run)
    assert facts['persistence_mode_all'] is False
    assert facts['cuda_version'] == '12.2'


def test_read_nvidia_smi_driver_not_loaded_raises_with_reason():
    run, calls = fake_run({tuple(nvidia_smi.QUERY_ARGS): (9, fixture('failed-driver-not-loaded.txt'), '')})
    with pytest.raises(nvidia_smi.NvidiaSmiError) as err:
        nvidia_smi.read_nvidia_smi(run)
    assert err.value.reason == 'driver_not_loaded'
    assert err.value.output.startswith("NVIDIA-SMI has failed because it couldn't communicate")
    assert calls == [nvidia_smi.QUERY_ARGS]


def test_read_topo_matrix_runs_topo_m_and_keeps_what_a_failure_printed():
    run, calls = fake_run({('topo', '-m'): (0, '\tGPU0\tCPU Affinity\nGPU0\t X \t0-3\n', '')})
    assert nvidia_smi.read_topo_matrix(run).startswith('\tGPU0')
    run, calls = fake_run({('topo', '-m'): (3, '', 'Failed to initialize NVML: Unknown Error')})
    with pytest.raises(nvidia_smi.NvidiaSmiError) as err:
        nvidia_smi.read_topo_matrix(run)
    assert err.value.reason == 'failed' and err.value.output == 'Failed to initialize NVML: Unknown Error'
    assert calls == [['topo', '-m']]


class ModuleTestDouble(object):
    """TEST DOUBLE of AnsibleModule's get_bin_path and run_command."""

    def __init__(self, found):
        self.found = found
        self.commands = []

    def get_bin_path(self, name, opt_dirs=None):
        return self.found

    def run_command(self, argv, environ_update=None):
        self.commands.append((argv, environ_update))
        return 0, 'out', ''


def test_nvidia_smi_runner_runs_the_found_executable_in_the_c_locale():
    module = ModuleTestDouble('/usr/bin/nvidia-smi')
    run = nvidia_smi.nvidia_smi_runner(module)
    assert run(['topo', '-m']) == (0, 'out', '')
    assert module.commands == [(['/usr/bin/nvidia-smi', 'topo', '-m'], {'LC_ALL': 'C'})]


def test_nvidia_smi_runner_without_nvidia_smi_raises_missing():
    run = nvidia_smi.nvidia_smi_runner(ModuleTestDouble(None))
    with pytest.raises(nvidia_smi.NvidiaSmiError) as err:
        run(['topo', '-m'])
    assert err.value.reason == 'nvidia_smi_missing' and err.value.output is None


def test_read_nvidia_smi_header_failure_keeps_query_driver_version():
    run, _calls = fake_run({
        tuple(nvidia_smi.QUERY_ARGS): (0, fixture('query-535-a10g-persistence-off.csv'), ''),
        (): (1, '', 'boom'),
    })
    facts = nvidia_smi.read_nvidia_smi(run)
    assert facts['driver_version'] == '535.247.01'
    assert facts['cuda_version'] is None


def test_unavailable_shape():
    facts = nvidia_smi.unavailable('nvidia_smi_missing', 'nvidia-smi was not found', 'nvidia-smi')
    assert facts['available'] is False
    assert facts['gpu_count'] == 0
    assert facts['persistence_mode_all'] is False
    assert facts['reason'] == 'nvidia_smi_missing'


class FakeNVML(object):
    """A stand-in for pynvml with two GPUs; `fail_init` makes nvmlInit raise."""

    class NVMLError(Exception):
        pass

    class _Pci(object):
        def __init__(self, bus_id):
            self.busId = bus_id

    class _Mem(object):
        total = 81920 * 1024 * 1024

    def __init__(self, fail_init=False, persistence=(1, 1), mig=(0, None)):
        self.fail_init = fail_init
        self.persistence = persistence
        self.mig = mig
        self.shutdown = False

    def nvmlInit(self):
        if self.fail_init:
            raise self.NVMLError('Driver Not Loaded')

    def nvmlShutdown(self):
        self.shutdown = True

    def nvmlSystemGetDriverVersion(self):
        return b'535.104.05'

    def nvmlSystemGetCudaDriverVersion(self):
        return 12020

    def nvmlDeviceGetCount(self):
        return 2

    def nvmlDeviceGetHandleByIndex(self, index):
        return index

    def nvmlDeviceGetUUID(self, handle):
        return 'GPU-%d' % handle

    def nvmlDeviceGetName(self, handle):
        return 'NVIDIA A100-SXM4-80GB'

    def nvmlDeviceGetPciInfo(self, handle):
        return self._Pci('00000000:%02X:00.0' % (7 + handle))

    def nvmlDeviceGetPersistenceMode(self, handle):
        return self.persistence[handle]

    def nvmlDeviceGetMemoryInfo(self, handle):
        return self._Mem()

    def nvmlDeviceGetMigMode(self, handle):
        if self.mig[handle] is None:
            raise self.NVMLError('Not Supported')
        return (self.mig[handle], self.mig[handle])


def test_read_nvml_reads_every_gpu_and_shuts_down():
    nvml = FakeNVML(persistence=(1, 0))
    facts = nvidia_smi.read_nvml(nvml)
    assert nvml.shutdown is True
    assert facts['source'] == 'nvml'
    assert (facts['driver_version'], facts['cuda_version'], facts['gpu_count']) == ('535.104.05', '12.2', 2)
    assert [gpu['persistence_mode'] for gpu in facts['gpus']] == [True, False]
    assert [gpu['mig_mode'] for gpu in facts['gpus']] == [False, None]
    assert facts['gpus'][1]['pci_bus_id'] == '00000000:08:00.0'
    assert facts['gpus'][0]['memory_total_mib'] == 81920
    assert facts['persistence_mode_all'] is False


def test_read_nvml_init_failure_is_driver_not_loaded():
    with pytest.raises(nvidia_smi.NvidiaSmiError) as err:
        nvidia_smi.read_nvml(FakeNVML(fail_init=True))
    assert err.value.reason == 'driver_not_loaded'
