"""The tables and figures of ``benchmarks/outreach.py``, from the simulation's logs and
the simulated truth (failure times, where owners live)."""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from benchmarks.outreach_bundles import BundleCheck
from benchmarks.outreach_desk import Desk, Item, first_contacts
from benchmarks.outreach_owners import Owner, SentContact, month_rates, over_cap, unwelcome
from benchmarks.outreach_wear import DAY_S, FieldDevice, Trained
from cloud.outreach.planner import OutreachPolicy


def report(
    desk: Desk,
    owners: dict[str, Owner],
    field: Sequence[FieldDevice],
    trained: dict[str, Trained],
    bundles: Sequence[BundleCheck],
    policy: OutreachPolicy,
    months: int,
    start: float,
    end: float,
) -> dict[str, object]:
    wear = _wear_table(desk, field, trained, policy, end)
    people = _owner_table(desk.sent, owners, months, start)
    complete = _bundle_table(bundles)
    return {
        "wearout_lead_share": wear["lead_share"],
        "quiet_hour_contacts": people["unwelcome"],
        "over_cap_contacts": people["over_cap"],
        "answer_rate_first_month": people["first"],
        "answer_rate_last_month": people["last"],
        "complete_bundles": complete,
        "false_alarms": wear["false_alarms"],
        "false_alarm_devices": wear["false_alarm_devices"],
        "working_devices": wear["working_devices"],
        "wearout_failures": wear["failures"],
        "wearout_raised_share": wear["raised_share"],
        "median_contact_lead_days": wear["median_lead_days"],
        "answer_rate_first_month_learned": people["first_learned"],
        "answer_rate_last_month_learned": people["last_learned"],
        "local_night_contacts_unset": people["local_night_unset"],
        "contacts": len(desk.sent),
        "owners": len(owners),
        "months": months,
    }


def _wear_table(
    desk: Desk,
    field: Sequence[FieldDevice],
    trained: dict[str, Trained],
    policy: OutreachPolicy,
    end: float,
) -> dict[str, object]:
    lead = policy.lead_time_s
    contacted = first_contacts(desk.sent, "wear_out")
    raised: dict[str, list[Item]] = defaultdict(list)
    for item in desk.items:
        if item.draft.kind == "wear_out":
            raised[item.draft.device_id].append(item)
    raise_at = (lead + policy.arrange_s) / DAY_S
    print(f"\nwear-out lead time (lead {lead / DAY_S:.0f} d; raised when low <= {raise_at:.0f} d)")
    print(f"{'model':>16} {'devices':>7} {'failed':>6} {'raised>=lead':>12} "
          f"{'contact>=lead':>13} {'never':>5} {'late':>4} {'delayed':>7} {'working':>7} "
          f"{'false(dev)':>10} {'cap_d':>5}")  # fmt: skip
    totals: defaultdict[str, int] = defaultdict(int)
    leads: list[float] = []
    for model, entry in sorted(trained.items()):
        row: defaultdict[str, int] = defaultdict(int)
        for device in (d for d in field if d.model == model):
            row["devices"] += 1
            items = raised.get(device.device_id, [])
            if not device.fails_by(end):
                row["working"] += 1
                row["false"] += len(items)
                row["false_devices"] += bool(items)
                continue
            failure = device.failure_s or math.inf
            row["failed"] += 1
            first_raise = min((i.draft.created_at for i in items), default=math.inf)
            contact = contacted.get(device.device_id)
            contact_at = contact.sent_at if contact and contact.sent_at < failure else math.inf
            row["raised_ok"] += failure - first_raise >= lead
            row["contact_ok"] += failure - contact_at >= lead
            if contact_at < math.inf:
                leads.append((failure - contact_at) / DAY_S)
            if first_raise == math.inf:
                row["never"] += 1
            elif failure - first_raise < lead:
                row["late"] += 1
            elif failure - contact_at < lead:
                row["delayed"] += 1
        for key, value in row.items():
            totals[key] += value
        cap = float(entry.model.choices.get("rul_cap", math.nan)) / 24.0  # type: ignore[arg-type]
        alarms = f"{row['false']}({row['false_devices']})"
        print(f"{model:>16} {row['devices']:7d} {row['failed']:6d} {row['raised_ok']:12d} "
              f"{row['contact_ok']:13d} {row['never']:5d} {row['late']:4d} {row['delayed']:7d} "
              f"{row['working']:7d} {alarms:>10} {cap:5.1f}")  # fmt: skip
    print(
        "  never: no item before the failure; late: the first item came less than the lead "
        "time before it; delayed: raised in time, contacted too late; "
        "working: did not fail within the horizon; cap_d: the model's RUL cap in days"
    )
    failures = totals["failed"]
    return {
        "failures": failures,
        "lead_share": _share(totals["contact_ok"], failures),
        "raised_share": _share(totals["raised_ok"], failures),
        "false_alarms": totals["false"],
        "false_alarm_devices": totals["false_devices"],
        "working_devices": totals["working"],
        "median_lead_days": round(statistics.median(leads), 2) if leads else "nan",
    }


def _owner_table(
    sent: Sequence[SentContact], owners: dict[str, Owner], months: int, start: float
) -> dict[str, object]:
    rates = month_rates(sent, owners, start, months)
    by_owner: dict[str, list[SentContact]] = defaultdict(list)
    for contact in sent:
        by_owner[contact.owner_id].append(contact)
    rows = {}
    for group in ("all", "learned", "explicit"):
        chosen = [
            o for o in owners.values() if group == "all" or o.explicit == (group == "explicit")
        ]
        contacts = [c for o in chosen for c in by_owner[o.owner_id] if not c.critical]
        rows[group] = {
            "owners": len(chosen),
            "contacts": len(contacts),
            "unwelcome": sum(unwelcome(owners[c.owner_id].prefs, c.sent_at) for c in contacts),
            "over_cap": sum(
                over_cap(o.prefs, [c.sent_at for c in by_owner[o.owner_id] if not c.critical])
                for o in chosen
            ),
            "night": sum(_local_night(owners[c.owner_id], c.sent_at) for c in contacts),
        }
    print("\nowners (non-critical contacts; answer rate per 30-day month)")
    print(
        f"{'owners':>16} {'n':>5} {'contacts':>8} {'unwelcome':>9} {'over_cap':>8} "
        f"{'local_night':>11}  answer rate by month"
    )
    names = {"all": "all", "learned": "set nothing", "explicit": "set their terms"}
    for group, row in rows.items():
        monthly = " ".join(f"{r:.2f}" for r in rates[group])
        print(f"{names[group]:>16} {row['owners']:5d} {row['contacts']:8d} {row['unwelcome']:9d} "
              f"{row['over_cap']:8d} {row['night']:11d}  {monthly}")  # fmt: skip
    print(
        "  unwelcome: in quiet hours or outside every window of the terms the service holds; "
        "local_night: 21:00-08:00 where the owner lives"
    )
    return {
        "unwelcome": rows["all"]["unwelcome"],
        "over_cap": rows["all"]["over_cap"],
        "first": round(rates["all"][0], 3),
        "last": round(rates["all"][-1], 3),
        "first_learned": round(rates["learned"][0], 3),
        "last_learned": round(rates["learned"][-1], 3),
        "local_night_unset": rows["learned"]["night"],
    }


def _local_night(owner: Owner, ts: float) -> bool:
    hour = datetime.fromtimestamp(ts, ZoneInfo(owner.zone)).hour
    return hour >= 21 or hour < 8


def _bundle_table(bundles: Sequence[BundleCheck]) -> float:
    print("\nsupport bundles")
    print(f"{'model':>16} {'requests':>8} {'complete':>8} {'missing parts':>14} {'leaked':>6}")
    for model in sorted({b.model for b in bundles}):
        mine = [b for b in bundles if b.model == model]
        missing = sum(
            not all((b.telemetry, b.self_heal, b.identity, b.config, b.errors, b.redacted))
            for b in mine
        )
        leaked = sum(bool(b.leaked) or b.cloud_redacted > 0 for b in mine)
        complete = sum(b.complete for b in mine)
        print(f"{model:>16} {len(mine):8d} {complete:8d} {missing:14d} {leaked:6d}")
    return _share(sum(b.complete for b in bundles), len(bundles))


def _share(part: int, whole: int) -> float:
    return round(part / whole, 3) if whole else float("nan")
