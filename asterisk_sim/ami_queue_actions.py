"""AMI queue actions: QueueStatus, QueueSummary, QueueAdd, QueueRemove, QueuePause, GetConfig.

Replies and list items follow ``ami-queue-*.txt`` and ``ami-ping-events-command.txt``: QueueStatus
of an unknown queue is an empty list, not an error; ``QueueMember`` items say ``Name``/``Location``.
``GetConfig`` answers for ``queues.conf`` only (the world's queues written as that file), in
Asterisk's shape: one ``Response: Success`` with ``Category-NNNNNN`` and
``Line-NNNNNN-MMMMMM: key=value`` headers; any other file is ``Config file not found``.
This module must not change queue state except through :class:`asterisk_sim.queues.Queues`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from asterisk_sim.amiproto import AmiMessage, error, format_message, response
from asterisk_sim.queues import AgentState, Queue

if TYPE_CHECKING:
    from asterisk_sim.ami_actions import ActionContext


def _start(ctx: ActionContext, aid: str, message: str) -> None:
    ctx.session.reply(
        format_message(
            [
                ("Response", "Success"),
                ("ActionID", aid),
                ("EventList", "start"),
                ("Message", message),
            ]
        )
    )


def _complete(ctx: ActionContext, name: str, aid: str, count: int) -> None:
    ctx.session.reply(
        format_message(
            [
                ("Event", name),
                ("ActionID", aid),
                ("EventList", "Complete"),
                ("ListItems", str(count)),
            ]
        )
    )


def _queues(ctx: ActionContext, name: str) -> list[Queue]:
    queues = ctx.sim.world.queues.queues
    if name:
        return [queues[name]] if name in queues else []
    return list(reversed(queues.values()))


def queue_status(ctx: ActionContext, msg: AmiMessage) -> None:
    aid = msg.get("ActionID")
    world = ctx.sim.world
    _start(ctx, aid, "Queue status will follow")
    count = 0
    for queue in _queues(ctx, msg.get("Queue")):
        calls = len(queue.waiting)
        done = max(queue.completed, 1)
        items = [
            ("Event", "QueueParams"),
            ("Queue", queue.name),
            ("Max", "0"),
            ("Strategy", "ringall"),
            ("Calls", str(calls)),
            ("Holdtime", str(int(queue.holdtime_total / done))),
            ("TalkTime", str(int(queue.talktime_total / done))),
            ("Completed", str(queue.completed)),
            ("Abandoned", str(queue.abandoned)),
            ("ServiceLevel", "0"),
            ("ServicelevelPerf", "0.0"),
            ("ServicelevelPerf2", "0.0"),
            ("Weight", "0"),
            ("ActionID", aid),
        ]
        ctx.session.reply(format_message(items))
        count += 1
        for member in reversed(queue.members.values()):
            if member.state is AgentState.LOGGED_OUT:
                continue
            ctx.session.reply(
                format_message([("Event", "QueueMember"), *member.status_item(), ("ActionID", aid)])
            )
            count += 1
        for pos, call in enumerate(queue.waiting, start=1):
            chan = call.caller
            wait = int((world.mono() - call.joined_at) / world.scale)
            ctx.session.reply(
                format_message(
                    [
                        ("Event", "QueueEntry"),
                        ("Queue", queue.name),
                        ("Position", str(pos)),
                        ("Channel", chan.name),
                        ("Uniqueid", chan.uniqueid),
                        ("CallerIDNum", chan.cid_num),
                        ("CallerIDName", chan.cid_name),
                        ("ConnectedLineNum", chan.conn_num),
                        ("ConnectedLineName", chan.conn_name),
                        ("Wait", str(wait)),
                        ("Priority", "0"),
                        ("ActionID", aid),
                    ]
                )
            )
            count += 1
    _complete(ctx, "QueueStatusComplete", aid, count)


def queue_summary(ctx: ActionContext, msg: AmiMessage) -> None:
    aid = msg.get("ActionID")
    world = ctx.sim.world
    _start(ctx, aid, "Queue summary will follow")
    queues = _queues(ctx, msg.get("Queue"))
    for queue in queues:
        logged = queue.logged_in()
        longest = max(
            (int((world.mono() - c.joined_at) / world.scale) for c in queue.waiting), default=0
        )
        done = max(queue.completed, 1)
        ctx.session.reply(
            format_message(
                [
                    ("Event", "QueueSummary"),
                    ("Queue", queue.name),
                    ("LoggedIn", str(len(logged))),
                    ("Available", str(sum(1 for m in logged if m.free))),
                    ("Callers", str(len(queue.waiting))),
                    ("HoldTime", str(int(queue.holdtime_total / done))),
                    ("TalkTime", str(int(queue.talktime_total / done))),
                    ("LongestHoldTime", str(longest)),
                    ("ActionID", aid),
                ]
            )
        )
    _complete(ctx, "QueueSummaryComplete", aid, len(queues))


def _truthy(value: str) -> bool:
    return value.lower() in ("true", "1", "yes", "on")


def queue_add(ctx: ActionContext, msg: AmiMessage) -> None:
    """As ``manager_add_queue_member``: dynamic members only, refusals in Asterisk's words."""
    aid = msg.get("ActionID")
    name, iface = msg.get("Queue"), msg.get("Interface")
    if not name:
        ctx.session.reply(error(aid, "'Queue' not specified."))
        return
    if not iface:
        ctx.session.reply(error(aid, "'Interface' not specified."))
        return
    penalty = msg.get("Penalty")
    penalty = penalty if penalty.isdigit() else "0"  # as Asterisk: an unreadable penalty is 0
    queues = ctx.sim.world.queues
    if name not in queues.queues:
        ctx.session.reply(error(aid, "Unable to add interface to queue: No such queue"))
        return
    existing = queues.queues[name].members.get(iface)
    if existing is not None and existing.state is not AgentState.LOGGED_OUT:
        ctx.session.reply(error(aid, "Unable to add interface: Already there"))
        return
    ctx.session.reply(response(aid, Message="Added interface to queue"))
    if existing is not None:  # a configured member the simulator keeps logged out
        queues.login(name, iface, msg.get("MemberName") or existing.name)
        return
    queues.add(
        name,
        iface,
        msg.get("MemberName") or iface,
        state_interface=msg.get("StateInterface"),
        penalty=int(penalty),
        paused=_truthy(msg.get("Paused")),
        reason=msg.get("Reason"),
    )


def queue_remove(ctx: ActionContext, msg: AmiMessage) -> None:
    aid = msg.get("ActionID")
    name, iface = msg.get("Queue"), msg.get("Interface")
    if not name or not iface:
        ctx.session.reply(error(aid, "Need 'Queue' and 'Interface' parameters."))
        return
    queues = ctx.sim.world.queues
    if name not in queues.queues:
        ctx.session.reply(error(aid, "Unable to remove interface from queue: No such queue"))
        return
    member = queues.queues[name].members.get(iface)
    if member is None or member.state is AgentState.LOGGED_OUT:
        ctx.session.reply(error(aid, "Unable to remove interface: Not there"))
        return
    ctx.session.reply(response(aid, Message="Removed interface from queue"))
    queues.remove(name, iface)


def queue_pause(ctx: ActionContext, msg: AmiMessage) -> None:
    aid = msg.get("ActionID")
    name, iface = msg.get("Queue"), msg.get("Interface")
    if not iface or not msg.get("Paused"):
        ctx.session.reply(error(aid, "Need 'Interface' and 'Paused' parameters."))
        return
    paused = _truthy(msg.get("Paused"))
    queues = ctx.sim.world.queues
    found = [
        q
        for q in queues.queues.values()
        if (not name or q.name == name)
        and iface in q.members
        and q.members[iface].state is not AgentState.LOGGED_OUT
    ]
    if not found:
        ctx.session.reply(error(aid, "Interface not found"))
        return
    verb = "paused" if paused else "unpaused"
    ctx.session.reply(response(aid, Message=f"Interface {verb} successfully"))
    queues.pause(name, iface, paused, msg.get("Reason"))


def _queues_conf(ctx: ActionContext) -> list[tuple[str, list[tuple[str, str]]]]:
    """The world's queues as the categories of a queues.conf."""
    general = [("persistentmembers", "no"), ("autofill", "yes"), ("shared_lastcall", "no")]
    categories = [("general", general)]
    for queue in ctx.sim.world.queues.queues.values():
        cfg = queue.config
        lines = [
            ("strategy", cfg.strategy),
            ("timeout", "15"),
            ("wrapuptime", str(int(cfg.wrapup))),
            ("ringinuse", "no"),
            ("joinempty", "unavailable,invalid,unknown"),
        ]
        for agent in cfg.agents:
            own = f",,no,{int(agent.wrapup)}" if agent.wrapup > 0 else ""
            lines.append(("member", f"{agent.member_interface},0,{agent.member_name}{own}"))
        categories.append((queue.name, lines))
    return categories


def get_config(ctx: ActionContext, msg: AmiMessage) -> None:
    aid = msg.get("ActionID")
    if not {"system", "config", "all"} & set(ctx.sim.config.ami_write):
        ctx.session.reply(error(aid, "Permission denied"))  # as Asterisk: a write privilege
        return
    filename = msg.get("Filename")
    if not filename:
        ctx.session.reply(error(aid, "Filename not specified"))
        return
    if filename != "queues.conf":
        ctx.session.reply(error(aid, "Config file not found"))
        return
    headers = [("Response", "Success"), ("ActionID", aid)]
    wanted = msg.get("Category")
    number = 0
    for name, lines in _queues_conf(ctx):
        if wanted and name != wanted:
            continue
        headers.append((f"Category-{number:06d}", name))
        headers.extend((f"Line-{number:06d}-{i:06d}", f"{k}={v}") for i, (k, v) in enumerate(lines))
        number += 1
    ctx.session.reply(format_message(headers))


QUEUE_ACTIONS: dict[str, Callable[[ActionContext, AmiMessage], None]] = {
    "queuestatus": queue_status,
    "queuesummary": queue_summary,
    "queueadd": queue_add,
    "queueremove": queue_remove,
    "queuepause": queue_pause,
    "getconfig": get_config,
}
