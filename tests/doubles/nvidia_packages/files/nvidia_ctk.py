# TEST DOUBLE of nvidia-ctk (gpulab.dgx tests): NOT NVIDIA's tool.
# Implements only what the roles call, with the real tool's observable effects:
#   nvidia-ctk --version
#   nvidia-ctk runtime configure --runtime=docker [--config=PATH]   adds runtimes.nvidia
#   nvidia-ctk cdi generate --output=PATH                           writes a stand-in spec
#   nvidia-ctk cdi list                                             lists devices in the specs
import glob
import json
import os
import sys


def option(args, name, default=None):
    for i, arg in enumerate(args):
        if arg.startswith(name + '='):
            return arg.split('=', 1)[1]
        if arg == name and i + 1 < len(args):
            return args[i + 1]
    return default


def runtime_configure(args):
    if option(args, '--runtime') != 'docker':
        sys.exit('nvidia-ctk TEST DOUBLE: only --runtime=docker is implemented')
    path = option(args, '--config', '/etc/docker/daemon.json')
    config = {}
    if os.path.exists(path) and os.path.getsize(path):
        with open(path) as handle:
            config = json.load(handle)
    config.setdefault('runtimes', {})['nvidia'] = {'args': [], 'path': 'nvidia-container-runtime'}
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w') as handle:
        json.dump(config, handle, indent=4)
        handle.write('\n')
    print('INFO Wrote updated config to %s (TEST DOUBLE)' % path)


SPEC = """# TEST DOUBLE CDI spec written by the nvidia-ctk stand-in (gpulab.dgx tests): no GPU behind it.
cdiVersion: 0.5.0
kind: nvidia.com/gpu
devices:
- name: all
  containerEdits:
    env:
    - GPULAB_TEST_DOUBLE_CDI=all
containerEdits:
  env:
  - NVIDIA_VISIBLE_DEVICES=void
"""


def cdi_generate(args):
    path = option(args, '--output')
    if not path:
        sys.stdout.write(SPEC)
        return
    os.makedirs(os.path.dirname(path) or '.', exist_ok=True)
    with open(path, 'w') as handle:
        handle.write(SPEC)
    print('INFO Generated CDI spec with version 0.5.0 (TEST DOUBLE)')


def cdi_list():
    devices = []
    for spec in sorted(glob.glob('/etc/cdi/*.yaml') + glob.glob('/var/run/cdi/*.yaml')):
        kind = None
        with open(spec) as handle:
            for line in handle:
                if line.startswith('kind:'):
                    kind = line.split(':', 1)[1].strip()
                elif line.startswith('- name:') and kind:
                    devices.append('%s=%s' % (kind, line.split(':', 1)[1].strip()))
    print('INFO Found %d CDI devices' % len(devices))
    for device in devices:
        print(device)


def main(args):
    if args[:1] in (['--version'], ['-v']):
        print('NVIDIA Container Toolkit CLI version TEST DOUBLE (gpulab.dgx tests)')
    elif args[:2] == ['runtime', 'configure']:
        runtime_configure(args[2:])
    elif args[:2] == ['cdi', 'generate']:
        cdi_generate(args[2:])
    elif args[:2] == ['cdi', 'list']:
        cdi_list()
    else:
        sys.exit('nvidia-ctk TEST DOUBLE: not implemented: %s' % ' '.join(args))


if __name__ == '__main__':
    main(sys.argv[1:])
