# SPDX-License-Identifier: Apache-2.0
"""rocketmq: the rocketmq-client-python API over librmq (ctypes). See doc/python.md."""
