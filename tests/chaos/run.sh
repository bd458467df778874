#!/bin/bash
# SPDX-License-Identifier: MIT
# The chaos harness, one pass of every fault class (ctest chaos_short): a master, 5 mirrors and a
# client in their own network namespaces, W = 30 s. Skipped (exit 77) where network
# namespaces or nftables are not allowed. chaos.py says what each invariant means.
. "$(dirname "$0")/lib.sh"
chaos_can_run
trap chaos_cleanup EXIT
chaos_net_up 5
chaos_dirs 5
chaos_run --mirrors 5 --window "${CHAOS_WINDOW:-30}" "$@"
