# -*- coding: utf-8 -*-
# Copyright (c) 2026, gpulab.dgx maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Read the NVIDIA driver state: driver version, the highest CUDA version it supports,
persistence mode and the visible GPUs, from NVML (pynvml) or from nvidia-smi's text.

The parsing functions are pure (text in, data out) so they can be tested on real outputs.
"""

from __future__ import annotations

import os
import re

# Fields asked of `nvidia-smi --query-gpu`, in this order.
QUERY_FIELDS = (
    'index',
    'uuid',
    'name',
    'pci.bus_id',
    'driver_version',
    'persistence_mode',
    'memory.total',
    'mig.mode.current',
)

QUERY_ARGS = ['--query-gpu=' + ','.join(QUERY_FIELDS), '--format=csv,noheader,nounits']
# The GPU link matrix (read by topology_text.parse_topo_matrix).
TOPO_ARGS = ['topo', '-m']

# Messages nvidia-smi prints (on stdout) when it cannot give an answer.
_FAILURES = (
    (re.compile(r"couldn'?t communicate with the NVIDIA driver", re.I),
     'driver_not_loaded',
     'nvidia-smi cannot talk to the NVIDIA driver: the kernel module is not loaded '
     '(driver missing, not built for this kernel, or a reboot is pending)'),
    (re.compile(r'No devices were found', re.I),
     'no_devices',
     'the NVIDIA driver is loaded but sees no GPU'),
    (re.compile(r'Driver/library version mismatch', re.I),
     'version_mismatch',
     'the loaded NVIDIA kernel module and the user-space driver differ (reboot after a driver update)'),
    (re.compile(r'NVML Shared Library Not Found|libnvidia-ml\.so', re.I),
     'nvml_missing',
     'the NVML library (libnvidia-ml) is missing'),
)

_HEADER_DRIVER = re.compile(r'Driver Version\s*:\s*([0-9][0-9.]*)')
_HEADER_CUDA = re.compile(r'CUDA Version\s*:\s*([0-9]+(?:\.[0-9]+)*)')
_NOT_AVAILABLE = ('[N/A]', 'N/A', '[Not Supported]', '[Not Found]', '')


class NvidiaSmiError(Exception):
    """nvidia-smi or NVML gave no usable answer; `reason` is a short machine-readable code,
    `output` what nvidia-smi printed (None when it did not run)."""

    def __init__(self, reason, message, output=None):
        super(NvidiaSmiError, self).__init__(message)
        self.reason = reason
        self.message = message
        self.output = output


def nvidia_smi_runner(module, path='nvidia-smi'):
    """run(args) -> (rc, stdout, stderr) of `nvidia-smi ARGS` through module.run_command, in the C
    locale, for read_nvidia_smi and the host topology reader.

    `path` with a slash is taken as it is, else looked up on PATH, then /usr/bin, at the first
    call; without an executable nvidia-smi, run raises NvidiaSmiError('nvidia_smi_missing').
    """
    found = []

    def run(args):
        if not found:
            if os.path.sep in path:
                executable = path if os.access(path, os.X_OK) else None
            else:
                executable = module.get_bin_path(path, opt_dirs=['/usr/bin'])
            if not executable:
                raise NvidiaSmiError('nvidia_smi_missing', 'nvidia-smi was not found on the host (%s)' % path)
            found.append(executable)
        return module.run_command([found[0]] + list(args), environ_update={'LC_ALL': 'C'})

    return run


def run_checked(run, args):
    """stdout of `nvidia-smi ARGS`; NvidiaSmiError (with what it printed) when it exits non-zero."""
    rc, out, err = run(args)
    if rc != 0:
        output = ((out or '') + '\n' + (err or '')).strip()
        reason, message = classify_failure(output, rc)
        raise NvidiaSmiError(reason, message, output)
    return out or ''


def read_gpu_list(run):
    """The GPUs `nvidia-smi --query-gpu` lists (parse_query_gpu's dicts)."""
    return parse_query_gpu(run_checked(run, QUERY_ARGS))


def read_topo_matrix(run):
    """The text of `nvidia-smi topo -m`."""
    return run_checked(run, TOPO_ARGS)


def classify_failure(output, rc=None):
    """Return (reason, message) for the text nvidia-smi printed when it failed."""
    for pattern, reason, message in _FAILURES:
        if pattern.search(output or ''):
            return reason, message
    detail = (output or '').strip().splitlines()
    detail = detail[0] if detail else 'no output'
    return 'failed', 'nvidia-smi failed (rc=%s): %s' % (rc, detail)


def parse_header(text):
    """Driver and CUDA versions from plain `nvidia-smi` (its table header) or `nvidia-smi -q`.

    Returns a dict with `driver_version` and `cuda_version` (None when absent; drivers
    older than 410 print no CUDA version).
    """
    text = text or ''
    driver = _HEADER_DRIVER.search(text)
    cuda = _HEADER_CUDA.search(text)
    return {
        'driver_version': driver.group(1) if driver else None,
        'cuda_version': cuda.group(1) if cuda else None,
    }


def _value(raw):
    raw = raw.strip()
    return None if raw in _NOT_AVAILABLE else raw


def _enabled(raw):
    value = _value(raw)
    if value is None:
        return None
    return value.lower() in ('enabled', 'on', '1')


def _mib(raw):
    value = _value(raw)
    if value is None:
        return None
    match = re.match(r'^([0-9]+)', value)
    return int(match.group(1)) if match else None


def parse_query_gpu(text):
    """GPUs from `nvidia-smi` run with QUERY_ARGS (csv, no header, no units).

    Returns a list of dicts: index, uuid, name, pci_bus_id, driver_version,
    persistence_mode (bool or None), memory_total_mib, mig_mode (bool or None).
    """
    gpus = []
    for line in (text or '').splitlines():
        if not line.strip():
            continue
        cells = [cell.strip() for cell in line.split(',')]
        if len(cells) != len(QUERY_FIELDS):
            raise NvidiaSmiError('parse', 'unexpected nvidia-smi --query-gpu line: %r' % line)
        row = dict(zip(QUERY_FIELDS, cells))
        try:
            index = int(row['index'])
        except ValueError:
            raise NvidiaSmiError('parse', 'unexpected GPU index in nvidia-smi line: %r' % line)
        gpus.append({
            'index': index,
            'uuid': _value(row['uuid']),
            'name': _value(row['name']),
            'pci_bus_id': _value(row['pci.bus_id']),
            'driver_version': _value(row['driver_version']),
            'persistence_mode': _enabled(row['persistence_mode']),
            'memory_total_mib': _mib(row['memory.total']),
            'mig_mode': _enabled(row['mig.mode.current']),
        })
    return sorted(gpus, key=lambda gpu: gpu['index'])


def cuda_version_from_int(value):
    """NVML's nvmlSystemGetCudaDriverVersion integer (12020) as text ('12.2')."""
    value = int(value)
    return '%d.%d' % (value // 1000, (value % 1000) // 10)


def _text(value):
    return value.decode('utf-8', 'replace') if isinstance(value, bytes) else value


def summarize(gpus, driver_version, cuda_version, source):
    """The facts dict returned to Ansible."""
    return {
        'available': bool(gpus),
        'source': source,
        'error': None,
        'reason': None,
        'driver_version': driver_version,
        'cuda_version': cuda_version,
        'gpu_count': len(gpus),
        'gpus': gpus,
        'persistence_mode_all': bool(gpus) and all(gpu['persistence_mode'] for gpu in gpus),
    }


def unavailable(reason, message, source):
    facts = summarize([], None, None, source)
    facts.update({'reason': reason, 'error': message})
    return facts


def read_nvml(nvml):
    """Facts read through a pynvml-like module `nvml` (injected so tests can pass a fake)."""
    try:
        nvml.nvmlInit()
    except nvml.NVMLError as exc:
        raise NvidiaSmiError('driver_not_loaded', 'NVML could not start: %s' % exc)
    try:
        driver_version = _text(nvml.nvmlSystemGetDriverVersion())
        cuda_version = cuda_version_from_int(nvml.nvmlSystemGetCudaDriverVersion())
        gpus = []
        for index in range(nvml.nvmlDeviceGetCount()):
            handle = nvml.nvmlDeviceGetHandleByIndex(index)
            try:
                mig_current = nvml.nvmlDeviceGetMigMode(handle)[0]
                mig = bool(mig_current)
            except nvml.NVMLError:
                mig = None  # GPUs without MIG answer NOT_SUPPORTED
            gpus.append({
                'index': index,
                'uuid': _text(nvml.nvmlDeviceGetUUID(handle)),
                'name': _text(nvml.nvmlDeviceGetName(handle)),
                'pci_bus_id': _text(nvml.nvmlDeviceGetPciInfo(handle).busId),
                'driver_version': driver_version,
                'persistence_mode': bool(nvml.nvmlDeviceGetPersistenceMode(handle)),
                'memory_total_mib': int(nvml.nvmlDeviceGetMemoryInfo(handle).total) // (1024 * 1024),
                'mig_mode': mig,
            })
    except nvml.NVMLError as exc:
        raise NvidiaSmiError('failed', 'NVML query failed: %s' % exc)
    finally:
        try:
            nvml.nvmlShutdown()
        except nvml.NVMLError:
            pass
    return summarize(gpus, driver_version, cuda_version, 'nvml')


def read_nvidia_smi(run):
    """Facts from nvidia-smi; `run(args)` returns (rc, stdout, stderr) of nvidia-smi ARGS."""
    gpus = read_gpu_list(run)
    rc, out, err = run([])
    header = parse_header(out) if rc == 0 else {'driver_version': None, 'cuda_version': None}
    driver_version = header['driver_version'] or (gpus[0]['driver_version'] if gpus else None)
    return summarize(gpus, driver_version, header['cuda_version'], 'nvidia-smi')
