"""Mosquitto's dynamic-security plugin, managed over ``$CONTROL/dynamic-security/v1``.

The broker, not the cloud, is what stops a device from reading another device's commands
or forging acknowledgements: every device gets its own broker client (username = client
id = device id) and its own role naming only its topics. Factory-fresh devices share the
``aftercare-bootstrap`` client, which reaches only provisioning topics;
the cloud's identity is the only one that may publish commands and acknowledgements or join
the ingest's shared subscriptions. Anything no ACL allows is denied (default ACL access
is set to deny), and a client without a username is refused (dynsec has no anonymous
group configured).

:class:`DynsecAdmin` is a small blocking client of the plugin's JSON API (paho on its own
network thread): one command per request, matched to its response by correlation data.
Every call is idempotent where the API allows it, so a restarted cloud can run
:meth:`DynsecAdmin.ensure_roles` again.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from cloud.mqtt.client import apply_login
from cloud.settings import BrokerLogin
from device_agent.contract import DEVICE_TO_CLOUD, PROVISION_ROOT, TOPIC_ROOT
from device_agent.settings import parse_broker_url

log = logging.getLogger("aftercare.dynsec")

CONTROL_TOPIC = "$CONTROL/dynamic-security/v1"
RESPONSE_TOPIC = CONTROL_TOPIC + "/response"

DEVICE_ROLE_PREFIX = "aftercare-device/"
"""Each device's role is this and its id (``/`` never occurs in a device id)."""
BOOTSTRAP_ROLE = "aftercare-bootstrap"
CLOUD_ROLE = "aftercare-cloud"


@dataclass(frozen=True)
class Acl:
    """One dynsec ACL entry. ``acltype`` is one of publishClientSend, publishClientReceive,
    subscribeLiteral, subscribePattern, unsubscribeLiteral, unsubscribePattern; ``%c`` in
    a pattern is the connecting client's id."""

    acltype: str
    topic: str
    allow: bool = True


def _send_receive(send: list[str], receive: list[str]) -> tuple[Acl, ...]:
    """Publish on ``send``; subscribe to and receive ``receive``."""
    return (
        *(Acl("publishClientSend", t) for t in send),
        *(Acl("subscribePattern", t) for t in receive),
        *(Acl("publishClientReceive", t) for t in receive),
    )


_PROVISION_ANY = f"{PROVISION_ROOT}/+"
ROLES: dict[str, tuple[Acl, ...]] = {
    # The shared factory credential: hello and proof out, challenge and credentials in.
    # Mosquitto 2.0's dynsec has no %c (it arrives in 2.1), so one bootstrap client can
    # reach every device's provisioning topics; that is why the credentials travel
    # encrypted to the device's ephemeral key and the challenge proves nothing without
    # the device's key. It cannot publish a challenge or credentials, nor any device topic.
    BOOTSTRAP_ROLE: _send_receive(
        send=[f"{_PROVISION_ANY}/hello", f"{_PROVISION_ANY}/proof"],
        receive=[f"{_PROVISION_ANY}/challenge", f"{_PROVISION_ANY}/credentials"],
    ),
    CLOUD_ROLE: (
        *_send_receive(
            send=[f"{TOPIC_ROOT}/#", f"{PROVISION_ROOT}/#"],
            receive=[f"{TOPIC_ROOT}/#", f"{PROVISION_ROOT}/#"],
        ),
        Acl("subscribePattern", f"$share/+/{TOPIC_ROOT}/#"),
        Acl("subscribePattern", f"$share/+/{PROVISION_ROOT}/#"),
    ),
}
"""Every role the system uses and its complete ACL list."""

DEFAULT_ACL_ACCESS = {
    "publishClientSend": False,
    "publishClientReceive": False,
    "subscribe": False,
    "unsubscribe": True,
}
"""Deny whatever no role allows (unsubscribing from nothing harms nobody)."""


def device_role(device_id: str) -> tuple[str, tuple[Acl, ...]]:
    """The role of one device: it publishes its uplink channels and hears its commands
    and acks, nothing else, not even publishing on its own commands or ack topic (that
    would forge the cloud). One role per device because Mosquitto 2.0's dynsec cannot
    substitute ``%c``; on 2.1 this could become one shared role."""
    own = f"{TOPIC_ROOT}/{device_id}"
    acls = _send_receive(
        send=[f"{own}/{c.value}" for c in DEVICE_TO_CLOUD],
        receive=[f"{own}/commands", f"{own}/ack"],
    )
    return DEVICE_ROLE_PREFIX + device_id, acls


def _acl_body(acls: tuple[Acl, ...]) -> list[dict[str, Any]]:
    return [{"acltype": a.acltype, "topic": a.topic, "allow": a.allow} for a in acls]


class DynsecError(RuntimeError):
    """The broker refused a dynamic-security command, or never answered; the message
    names the command and the broker's reason."""


class DynsecAdmin:
    """``with DynsecAdmin(url, login) as admin: admin.ensure_roles()``.

    Thread-safe: any thread may issue commands; each waits for its own response.
    """

    def __init__(
        self,
        url: str,
        login: BrokerLogin,
        client_id: str | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        self.url = url
        self.timeout_s = timeout_s
        self._pending: dict[str, tuple[threading.Event, list[dict[str, Any]]]] = {}
        self._lock = threading.Lock()
        self._connected = threading.Event()
        self._refused: str | None = None
        self._client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=client_id or f"aftercare-dynsec-{uuid.uuid4().hex[:8]}",
            protocol=mqtt.MQTTv311,
        )
        apply_login(self._client, url, login)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message

    def __enter__(self) -> DynsecAdmin:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        """Connect and wait for the session; raises DynsecError when refused or silent."""
        address = parse_broker_url(self.url)
        self._client.connect_async(address.host, address.port, keepalive=30)
        self._client.loop_start()
        if not self._connected.wait(self.timeout_s):
            self.stop()
            why = self._refused or f"no answer within {self.timeout_s:g} s"
            raise DynsecError(f"cannot reach the dynsec admin API at {self.url}: {why}")

    def stop(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def ensure_roles(self) -> None:
        """Create every role in :data:`ROLES` with exactly its ACLs, and deny by default.
        Idempotent: an existing role is updated to the current ACL list."""
        for name, acls in ROLES.items():
            body = _acl_body(acls)
            if not self.command("createRole", rolename=name, acls=body, allow_exists=True):
                self.command("modifyRole", rolename=name, acls=body)
        access = [{"acltype": k, "allow": v} for k, v in DEFAULT_ACL_ACCESS.items()]
        self.command("setDefaultACLAccess", acls=access)

    def ensure_client(
        self, username: str, password: str, role: str, client_id: str | None = None
    ) -> None:
        """A broker client with this password and only this role, enabled; created or
        updated. ``client_id`` pins the client id it must connect with (dynsec's
        ``clientid``), which is what makes ``%c`` in its role's ACLs its own id."""
        fields: dict[str, Any] = {"username": username, "password": password}
        if client_id is not None:
            fields["clientid"] = client_id
        roles = [{"rolename": role}]
        if not self.command("createClient", roles=roles, allow_exists=True, **fields):
            self.command("modifyClient", roles=roles, **fields)
            self.command("enableClient", username=username)

    def ensure_device(self, device_id: str, password: str) -> None:
        """The device's own role and client (username = client id = device id), with
        this password; any session still using an older password is cut off."""
        role, acls = device_role(device_id)
        body = _acl_body(acls)
        if not self.command("createRole", rolename=role, acls=body, allow_exists=True):
            self.command("modifyRole", rolename=role, acls=body)  # a new channel since
        self.ensure_client(device_id, password, role, client_id=device_id)

    def revoke_device(self, device_id: str) -> bool:
        """Delete the device's client and role; the broker drops its live sessions.
        Returns False when it had none (revoking twice is not an error)."""
        deleted = self.delete_client(device_id)
        self.command("deleteRole", rolename=device_role(device_id)[0], allow_missing=True)
        return deleted

    def delete_client(self, username: str) -> bool:
        """Delete a broker client; the broker drops its live sessions. Returns False when
        there was no such client."""
        return self.command("deleteClient", username=username, allow_missing=True)

    def grant_role(self, username: str, role: str) -> None:
        """Give an existing client ``role`` unless it has it (Mosquitto 2.0 answers
        "Internal error" to adding a role twice, so this asks first)."""
        answer = self._request("getClient", username=username)
        if answer.get("error"):
            raise DynsecError(f"dynsec getClient {username} refused: {answer['error']}")
        client = answer.get("data", {}).get("client", {})
        if role not in {r.get("rolename") for r in client.get("roles", [])}:
            self.command("addClientRole", username=username, rolename=role)

    def command(
        self, name: str, *, allow_exists: bool = False, allow_missing: bool = False, **fields: Any
    ) -> bool:
        """Run one dynsec command and wait for its answer. Returns False when the broker
        answered "already exists" (with ``allow_exists``) or "not found" (with
        ``allow_missing``); raises DynsecError for any other refusal."""
        error = self._request(name, **fields).get("error")
        if not error:
            return True
        text = str(error).lower()
        if allow_exists and "already exists" in text:
            return False
        if allow_missing and "not found" in text:
            return False
        raise DynsecError(f"dynsec {name} refused: {error}")

    def _request(self, name: str, **fields: Any) -> dict[str, Any]:
        """Send one command; its response (``error`` set when refused)."""
        correlation = uuid.uuid4().hex
        done = threading.Event()
        answer: list[dict[str, Any]] = []
        with self._lock:
            self._pending[correlation] = (done, answer)
        body = {"commands": [{"command": name, "correlationData": correlation, **fields}]}
        try:
            self._client.publish(CONTROL_TOPIC, json.dumps(body), qos=1)
            if not done.wait(self.timeout_s):
                raise DynsecError(f"dynsec {name}: no response within {self.timeout_s:g} s")
        finally:
            with self._lock:
                self._pending.pop(correlation, None)
        return answer[0]

    def _on_connect(
        self, client: mqtt.Client, _userdata: object, _flags: object, reason: object, _props: object
    ) -> None:
        if getattr(reason, "is_failure", False):
            self._refused = str(reason)
            log.warning("dynsec admin connect refused: %s", reason)
            return
        result, _ = client.subscribe(RESPONSE_TOPIC, qos=1)
        if result == mqtt.MQTT_ERR_SUCCESS:
            self._connected.set()

    def _on_disconnect(self, *_args: object) -> None:
        self._connected.clear()

    def _on_message(self, _client: mqtt.Client, _userdata: object, msg: mqtt.MQTTMessage) -> None:
        try:
            responses = json.loads(msg.payload)["responses"]
        except (ValueError, KeyError, TypeError):
            log.warning("dynsec: unreadable response %r", bytes(msg.payload[:200]))
            return
        for response in responses if isinstance(responses, list) else []:
            if not isinstance(response, dict):
                continue
            with self._lock:
                waiting = self._pending.get(str(response.get("correlationData")))
            if waiting is not None:
                waiting[1].append(response)
                waiting[0].set()
