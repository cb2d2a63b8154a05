"""The firmware side every simulated device shares: heap, CPU load, uptime and radio.

Kept apart from the physics so both models report the same firmware metrics in the same
way, and a memory leak or a flapping radio behaves alike whatever the product.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from firmware_sim.models.signals import SECONDS_PER_HOUR, smooth_noise, unit

REBOOT_DOWNTIME_S = 30.0
"""A watchdog reboot after the heap runs out keeps the radio down this long."""
LEAK_HOURS_TO_EMPTY = 4.0
"""A memory leak of magnitude 1.0 eats the whole free heap in this many hours."""
FLAP_SLOT_S = 20.0
"""A flapping link decides up or down afresh every slot: runs of tens of seconds."""
BOOT_CPU_S = 60.0
"""Start-up work (self-test, reconnect) loads the CPU for this long after a boot."""


@dataclass
class FirmwareState:
    """Heap and boot bookkeeping. Times are simulated epoch seconds."""

    key: int
    heap_kb: float
    baseline_free_kb: float
    boot_s: float
    rssi_base_dbm: float
    leaked_kb: float = 0.0
    down_until_s: float = -math.inf
    crashes: int = 0
    cpu_extra_pct: float = 0.0
    """Extra CPU load of a heavier firmware version (after an update)."""

    def leak_rate_kb_per_s(self, severity: float) -> float:
        """Leak speed for the summed magnitude of the active memory-leak faults."""
        return severity * self.baseline_free_kb / (LEAK_HOURS_TO_EMPTY * SECONDS_PER_HOUR)

    def step(self, t0_s: float, t1_s: float, leak_kb_per_s: float) -> None:
        """Leak over [t0, t1]; when the free heap reaches zero the watchdog reboots the
        device at that exact instant. The reboot restores the same persisted state, so
        the leak (still active) starts over: a sawtooth until someone fixes it."""
        t = t0_s
        while leak_kb_per_s > 0 and t < t1_s:
            to_empty_s = max(0.0, self.baseline_free_kb - self.leaked_kb) / leak_kb_per_s
            if t + to_empty_s > t1_s:
                self.leaked_kb += leak_kb_per_s * (t1_s - t)
                return
            t += to_empty_s
            self.crashes += 1
            self.boot_s = t
            self.leaked_kb = 0.0
            self.down_until_s = t + REBOOT_DOWNTIME_S

    def restart(self, now_s: float) -> None:
        """A commanded clean restart: fresh heap, uptime from zero, no radio outage (the
        agent reconnects within the same telemetry interval)."""
        self.boot_s = now_s
        self.leaked_kb = 0.0

    def update(
        self, at_s: float, cpu_extra_pct: float, mem_free_shift: float, reboot: bool
    ) -> None:
        """Install a new firmware version at ``at_s``: its heavier code and buffers shift the
        CPU and free-heap baselines for good; installing reboots the device (a unit that
        ships with the new version does not reboot)."""
        self.cpu_extra_pct += cpu_extra_pct
        self.baseline_free_kb *= 1.0 - mem_free_shift
        if reboot:
            self.boot_s = at_s
            self.leaked_kb = 0.0
            self.down_until_s = at_s + REBOOT_DOWNTIME_S

    def rebooting(self, now_s: float) -> bool:
        return now_s < self.down_until_s

    def mem_free_kb(self, now_s: float) -> float:
        """Free heap: a baseline that wanders with the workload, minus what has leaked."""
        wander = 0.03 * self.baseline_free_kb * smooth_noise(self.key ^ 0x3E3, now_s, 1800.0)
        return max(0.0, self.baseline_free_kb + wander - self.leaked_kb)

    def cpu_load_pct(self, now_s: float, activity_pct: float, rng: random.Random) -> float:
        """CPU load: the product's own work, boot work, and allocator thrash as the heap
        nears exhaustion (the last 30 % of the free heap)."""
        free_frac = self.mem_free_kb(now_s) / self.baseline_free_kb
        pressure = min(1.0, max(0.0, (0.3 - free_frac) / 0.3))
        booting = 30.0 if now_s - self.boot_s < BOOT_CPU_S else 0.0
        extra = self.cpu_extra_pct
        load = activity_pct + extra + booting + 55.0 * pressure + rng.gauss(0.0, 1.5)
        return min(100.0, max(0.0, load))

    def uptime_s(self, now_s: float) -> float:
        return max(0.0, now_s - self.boot_s)

    def rssi_dbm(self, now_s: float, flapping_severity: float, rng: random.Random) -> float:
        """Signal strength: site baseline, slow fading, and a deep drop while flapping."""
        fading = 3.0 * smooth_noise(self.key ^ 0x855, now_s, 2 * SECONDS_PER_HOUR)
        drop = 22.0 + 6.0 * flapping_severity if flapping_severity > 0 else 0.0
        return self.rssi_base_dbm + fading - drop + rng.gauss(0.0, 1.0)


def flapping_link_down(
    key: int, fault_index: int, start_s: float, now_s: float, severity: float
) -> bool:
    """Whether a flapping link is down at ``now_s``: each slot is down with a probability
    growing with severity; the first slot is always down so the fault shows at once."""
    slot = math.floor((now_s - start_s) / FLAP_SLOT_S)
    if slot <= 0:
        return True
    down_fraction = min(0.8, 0.35 + 0.15 * severity)
    return unit(key, fault_index, slot) < down_fraction
