# -*- coding: utf-8 -*-
from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import pytest

from ansible_collections.gpulab.dgx.plugins.module_utils.topology.cpuset import format_cpuset, parse_cpuset


@pytest.mark.parametrize("text, expected", [
    ("0-3,8,10-11", [0, 1, 2, 3, 8, 10, 11]),
    (" 16-17 , 144\n", [16, 17, 144]),
    ("", []),
    ("   ", []),
    ("5", [5]),
    ("3,1,2,1", [1, 2, 3]),
])
def test_parse_cpuset(text, expected):
    assert parse_cpuset(text) == expected


@pytest.mark.parametrize("text, named", [
    ("0-3,x", "'x'"),
    ("4-2", "'4-2'"),
    ("1,,2", "empty item"),
    ("-1", "'-1'"),
    ("0-", "'0-'"),
])
def test_parse_cpuset_rejects_and_names_bad_text(text, named):
    with pytest.raises(ValueError) as err:
        parse_cpuset(text)
    assert named in str(err.value)
    assert repr(text) in str(err.value)


@pytest.mark.parametrize("cpus, expected", [
    (list(range(16, 32)) + list(range(144, 160)), "16-31,144-159"),
    ([3, 1, 2, 7], "1-3,7"),
    ([], ""),
    ([5], "5"),
    ([0, 2, 4], "0,2,4"),
])
def test_format_cpuset_is_canonical(cpus, expected):
    assert format_cpuset(cpus) == expected


def test_round_trip():
    text = "0-15,128-143"
    assert format_cpuset(parse_cpuset(text)) == text
