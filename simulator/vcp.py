"""The car's side of Tesla's Vehicle Command Protocol (``signed_command``).

Written from Tesla's Go reference (``teslamotors/vehicle-command``: the car's
``internal/authentication/verifier.go`` and its helpers, the mock car of
``internal/dispatcher/dispatcher_test.go``, and ``pkg/protocol/protocol.md``;
``data/SOURCES.md`` names the file behind each rule), never from a client
library, so that a client and this car are two independent readings.

Per vehicle and domain (INFOTAINMENT, and VCSEC as far as a handshake goes)
the car has a fixed key pair (derived from the VIN, so it survives restarts
and a client's cached session stays valid), a random 16-byte epoch chosen at
"boot" and a clock counting seconds from that boot on the simulator's clock.
Per client key it keeps the anti-replay counter and the 32-slot window. The
whitelist is the vehicle's keychain (``SimVehicle.paired_keys``).

A verified INFOTAINMENT command is decoded (``CarServer.Action``) and run with
the simulator's own command semantics (:mod:`simulator.commands`), so a
signed ``add_charge_schedule`` has the effect and the answer the REST path
has. Its cryptography is :mod:`simulator.vcp_crypto`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
import hmac
import os
import re
from typing import Any, Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .commands import CommandArgumentError, CommandResult
from .protowire import DecodeError, Message
from .vcp_crypto import (
    COUNTER_MAX,
    EPOCH_ID_LENGTH,
    EPOCH_LENGTH,
    MAX_SECONDS_WITHOUT_COUNTER,
    CommandFields,
    car_private_key,
    command_gcm_aad,
    command_hmac_tag,
    load_public_key,
    public_bytes,
    request_id,
    response_aad,
    session_info_tag,
    session_key,
    update_sliding_window,
)
from .vcp_messages import (
    FLAG_ENCRYPT_RESPONSE,
    PROTOBUF_MESSAGE,
    SESSION_INFO,
    SESSION_INFO_REQUEST,
    Destination,
    Domain,
    GcmPersonalized,
    GcmResponse,
    HmacPersonalized,
    MessageFault,
    OperationStatus,
    RoutableMessage,
    SessionInfo,
    SessionInfoStatus,
    SessionInfoTag,
    SignatureData,
    carserver_response,
)
from .vehicle import SimVehicle

_YEAR: Final = 365 * 24 * 60 * 60
GCM_NONCE_LENGTH: Final = 12
FIRST_ENCRYPTING_FIRMWARE: Final = (2024, 38)
"""protocol.md: cars on 2024.38+ encrypt a response when the flag asks for it."""


type Executor = Callable[[str, Mapping[str, Any]], CommandResult]
"""Runs a command by its REST name on the vehicle: ``(result, reason)``."""


# --- CarServer actions (car_server.proto, common.proto) --------------------------


class _Unsupported(Exception):  # noqa: N818 - an answer, not an error
    """A VehicleAction the simulator does not model."""


def _charge_schedule(part: Message) -> dict[str, Any]:
    schedule_id = part.uint64(1)
    return {
        # proto3 cannot tell id 0 from no id: the car numbers it as REST does.
        "id": schedule_id or None,
        "name": part.string(2),
        "days_of_week": part.int32(3),
        "start_enabled": part.boolean(4),
        "start_time": part.int32(5),
        "end_enabled": part.boolean(6),
        "end_time": part.int32(7),
        "one_time": part.boolean(8),
        "enabled": part.boolean(9),
        "lat": part.float32(10),
        "lon": part.float32(11),
    }


def _scheduled_charging(part: Message) -> dict[str, Any]:
    enabled, minutes = part.boolean(1), part.int32(2)
    params: dict[str, Any] = {"enable": enabled}
    if enabled or minutes:
        params["time"] = minutes
    return params


_START_STOP: Final = {2: "charge_start", 5: "charge_stop"}
"""``ChargingStartStopAction``'s ``oneof``: start (2) and stop (5) are modelled;
unknown (1), start_standard (3) and start_max_range (4) are not."""

_ACTIONS: Final[dict[int, tuple[str, Callable[[Message], dict[str, Any]]]]] = {
    # VehicleAction field: (REST command, its parameters from the sub-message)
    5: ("set_charge_limit", lambda m: {"percent": m.int32(1)}),  # chargingSetLimit
    41: ("set_scheduled_charging", _scheduled_charging),  # scheduledChargingAction
    43: ("set_charging_amps", lambda m: {"charging_amps": m.int32(1)}),
    97: ("add_charge_schedule", _charge_schedule),  # addChargeScheduleAction
    98: ("remove_charge_schedule", lambda m: {"id": m.uint64(1)}),
}
_CHARGING_START_STOP: Final = 6


def decode_action(payload: bytes) -> tuple[str, dict[str, Any]]:
    """The REST command and parameters a ``CarServer.Action`` stands for.

    DecodeError for bytes that are no ``Action``; LookupError when it has no
    ``vehicleAction``; ``_Unsupported`` for an action the simulator lacks.
    """
    action = Message(payload).message(2)
    if action is None or not action.fields:
        raise LookupError("no vehicleAction")
    number = action.fields[-1].number  # the oneof member set last
    part = action.message(number)
    if part is None:  # pragma: no cover - message() of a present field
        raise DecodeError("vehicleAction")
    if number == _CHARGING_START_STOP:
        which = part.last_of(1, 2, 3, 4, 5)
        if which in _START_STOP:
            return _START_STOP[which], {}
        raise _Unsupported(f"chargingStartStopAction field {which}")
    if number not in _ACTIONS:
        raise _Unsupported(f"vehicleAction field {number}")
    name, params = _ACTIONS[number]
    return name, params(part)


# --- the car ---------------------------------------------------------------------


@dataclass(slots=True)
class _KeySession:
    """One client key's state in one domain: the shared key and anti-replay."""

    key: bytes
    counter: int = 0
    window: int = 0


@dataclass(slots=True)
class _DomainState:
    """One domain's keys, epoch and clock."""

    domain: Domain
    private: ec.EllipticCurvePrivateKey
    public: bytes
    epoch: bytes = b""
    time_zero: float = 0.0
    sessions: dict[bytes, _KeySession] = field(default_factory=dict)
    response_counter: int = 0


@dataclass(frozen=True, slots=True)
class CarAnswer:
    """What the car sent back, and what the simulator may want to count."""

    reply: bytes
    fault: MessageFault = MessageFault.NONE
    command: str | None = None
    """The REST name of the command the car ran, if it ran one."""


class _Refusal(Exception):  # noqa: N818 - an answer, not an error
    """Answer with ``fault``; attach signed session info when ``resync``."""

    def __init__(self, fault: MessageFault, *, resync: bool = False) -> None:
        super().__init__(fault.name)
        self.fault = fault
        self.resync = resync


_FIRMWARE: Final = re.compile(r"^(\d+)\.(\d+)")


class VehicleCommandCar:
    """One simulated car's INFOTAINMENT and VCSEC ends of the protocol."""

    def __init__(
        self,
        vehicle: SimVehicle,
        clock: Callable[[], float],
        *,
        random_bytes: Callable[[int], bytes] = os.urandom,
        domain_keys: Mapping[Domain, ec.EllipticCurvePrivateKey] | None = None,
    ) -> None:
        """Boot both domains now: fresh epochs, clocks at 0."""
        self.vehicle = vehicle
        self.clock = clock
        self._random = random_bytes
        self._vin = vehicle.vin.encode()
        self._domains: dict[Domain, _DomainState] = {}
        for domain in (Domain.VEHICLE_SECURITY, Domain.INFOTAINMENT):
            private = (domain_keys or {}).get(domain) or car_private_key(
                vehicle.vin, domain
            )
            state = _DomainState(domain, private, public_bytes(private.public_key()))
            self._domains[domain] = state
            self._new_epoch(state)

    # --- state a test or the control API reads ------------------------------

    def public_key(self, domain: Domain) -> bytes:
        """The domain's public key (65 bytes)."""
        return self._domains[domain].public

    def epoch(self, domain: Domain) -> bytes:
        """The domain's current epoch."""
        return self._domains[domain].epoch

    def clock_time(self, domain: Domain) -> int:
        """Seconds since the domain's epoch began."""
        return self._timestamp(self._domains[domain])

    def counter(self, domain: Domain, client_key: bytes) -> int:
        """The highest counter accepted from a client key (0 if none yet)."""
        session = self._domains[domain].sessions.get(client_key)
        return session.counter if session is not None else 0

    def reboot(self, domain: Domain | None = None) -> None:
        """A domain (or both) restarts: new epoch, clock and counters from 0."""
        for state in self._domains.values():
            if domain is None or state.domain == domain:
                self._new_epoch(state)

    # --- time (verifier.go: rotateEpochIfNeeded, adjustClock) ----------------

    def _new_epoch(self, state: _DomainState) -> None:
        state.epoch = self._random(EPOCH_ID_LENGTH)
        state.time_zero = self.clock()
        state.sessions.clear()

    def _timestamp(self, state: _DomainState) -> int:
        return int(self.clock() - state.time_zero)

    def _adjust_clock(self, state: _DomainState) -> None:
        elapsed = self.clock() - state.time_zero
        if (
            elapsed < 0
            or elapsed > _YEAR
            or elapsed > EPOCH_LENGTH
            or any(s.counter == COUNTER_MAX for s in state.sessions.values())
        ):
            self._new_epoch(state)

    # --- answering ------------------------------------------------------------

    def handle(self, raw: bytes, execute: Executor) -> CarAnswer:
        """Answer one ``RoutableMessage`` (as received) with the car's reply."""
        try:
            request = RoutableMessage.decode(raw)
        except DecodeError:
            return self._fault(RoutableMessage(), None, MessageFault.DECODING)
        to = request.to_destination
        domain = to.domain if to is not None else None
        if domain not in (Domain.VEHICLE_SECURITY, Domain.INFOTAINMENT):
            return self._fault(request, None, MessageFault.INVALID_DOMAINS)
        state = self._domains[Domain(domain)]
        self._adjust_clock(state)
        if request.payload_field == SESSION_INFO_REQUEST:
            return self._handshake(state, request)
        if request.payload_field == SESSION_INFO:
            return self._fault(request, state, MessageFault.BAD_PARAMETER)
        return self._command(state, request, execute)

    def _reply(
        self, request: RoutableMessage, state: _DomainState | None
    ) -> RoutableMessage:
        """The reply's envelope, as the mock car's ``initReply`` builds it."""
        return RoutableMessage(
            to_destination=request.from_destination,
            from_destination=(
                Destination(domain=state.domain)
                if state is not None
                else request.to_destination
            ),
            request_uuid=request.uuid,
            uuid=self._random(16),
        )

    def _with_session_info(
        self, reply: RoutableMessage, state: _DomainState, session: _KeySession
    ) -> RoutableMessage:
        """``SetSessionInfo``: session info tagged with the request's UUID."""
        info = SessionInfo(
            counter=session.counter,
            public_key=state.public,
            epoch=state.epoch,
            clock_time=self._timestamp(state),
        ).encode()
        tag = session_info_tag(session.key, self._vin, reply.request_uuid, info)
        return replace(
            reply,
            payload_field=SESSION_INFO,
            payload=info,
            signature_data=SignatureData(sig=SessionInfoTag(tag)),
        )

    def _fault(
        self,
        request: RoutableMessage,
        state: _DomainState | None,
        fault: MessageFault,
        session: _KeySession | None = None,
    ) -> CarAnswer:
        """A protocol-layer refusal; with ``session``, fresh session info too."""
        reply = replace(
            self._reply(request, state), status=(OperationStatus.ERROR, fault)
        )
        if session is not None and state is not None:
            reply = self._with_session_info(reply, state, session)
        return CarAnswer(reply.encode(), fault)

    def _unknown_key(self, request: RoutableMessage, state: _DomainState) -> CarAnswer:
        """A key not on the whitelist, answered as the vehicle is set to."""
        if self.vehicle.unknown_key_answer == "fault":
            return self._fault(request, state, MessageFault.UNKNOWN_KEY_ID)
        info = SessionInfo(status=SessionInfoStatus.KEY_NOT_ON_WHITELIST).encode()
        reply = replace(
            self._reply(request, state), payload_field=SESSION_INFO, payload=info
        )
        return CarAnswer(reply.encode(), MessageFault.UNKNOWN_KEY_ID)

    def _session(self, state: _DomainState, client_key: bytes) -> _KeySession | None:
        """The key's session, begun on first use; None if it is not paired."""
        if client_key not in self.vehicle.paired_keys:
            return None
        session = state.sessions.get(client_key)
        if session is None:
            peer = load_public_key(client_key)
            if peer is None:  # pragma: no cover - the keychain holds valid points
                return None
            session = _KeySession(session_key(state.private, peer))
            state.sessions[client_key] = session
        return session

    def _handshake(self, state: _DomainState, request: RoutableMessage) -> CarAnswer:
        """``session_info_request``: session info tagged for the asking key.

        A key that is not a P-256 point is a BAD_PARAMETER (Go's
        ``ErrInvalidPublicKey``); a key that is not paired is UNKNOWN_KEY_ID
        unless the vehicle answers with a whitelist status (``data/SOURCES.md``).
        """
        if load_public_key(request.payload) is None:
            return self._fault(request, state, MessageFault.BAD_PARAMETER)
        session = self._session(state, request.payload)
        if session is None:
            return self._unknown_key(request, state)
        reply = self._with_session_info(self._reply(request, state), state, session)
        return CarAnswer(reply.encode())

    def _command(
        self, state: _DomainState, request: RoutableMessage, execute: Executor
    ) -> CarAnswer:
        signature = request.signature_data
        if signature is None:
            return self._fault(request, state, MessageFault.BAD_PARAMETER)
        sig = signature.sig
        if not isinstance(sig, HmacPersonalized | GcmPersonalized):
            return self._fault(request, state, MessageFault.BAD_PARAMETER)
        if signature.signer_handle is not None:
            return self._fault(request, state, MessageFault.INVALID_KEY_HANDLE)
        session = self._session(state, signature.signer_public_key or b"")
        if session is None:
            return self._unknown_key(request, state)
        try:
            plaintext = self._verify(state, session, request, sig)
        except _Refusal as refusal:
            resync = session if refusal.resync else None
            return self._fault(request, state, refusal.fault, resync)
        if state.domain == Domain.VEHICLE_SECURITY:
            # The simulated VCSEC authenticates but runs no command.
            return self._fault(request, state, MessageFault.INVALID_COMMAND)
        command: str | None = None
        try:
            command, params = decode_action(plaintext)
        except DecodeError:
            return self._fault(request, state, MessageFault.DECODING)
        except LookupError:
            return self._fault(request, state, MessageFault.INVALID_COMMAND)
        except _Unsupported as unsupported:
            ok, reason = False, f"not simulated: {unsupported}"
        else:
            try:
                ok, reason = execute(command, params)
            except CommandArgumentError as err:
                ok, reason = False, str(err)
        answer = carserver_response(ok, reason)
        return CarAnswer(
            self._response(state, session, request, sig, answer), command=command
        )

    def _verify(
        self,
        state: _DomainState,
        session: _KeySession,
        request: RoutableMessage,
        sig: HmacPersonalized | GcmPersonalized,
    ) -> bytes:
        """``Verifier.Verify``: the checks in Go's order; the plaintext or _Refusal."""
        now = self._timestamp(state)
        # verifySessionInfo (the domain was checked when choosing the state)
        if sig.epoch and sig.epoch != state.epoch:
            raise _Refusal(MessageFault.INCORRECT_EPOCH, resync=True)
        if sig.expires_at and sig.expires_at < now:
            raise _Refusal(MessageFault.TIME_EXPIRED, resync=True)
        if sig.expires_at > EPOCH_LENGTH:
            raise _Refusal(MessageFault.BAD_PARAMETER, resync=True)
        if (sig.counter == 0 or sig.counter < session.counter) and (
            sig.expires_at == 0 or sig.expires_at - now > MAX_SECONDS_WITHOUT_COUNTER
        ):
            raise _Refusal(MessageFault.TIME_TO_LIVE_TOO_LONG, resync=True)
        fields = CommandFields(
            domain=state.domain,
            vin=self._vin,
            epoch=state.epoch,
            expires_at=sig.expires_at,
            counter=sig.counter,
            flags=request.flags,
        )
        if isinstance(sig, HmacPersonalized):
            expected = command_hmac_tag(session.key, fields, request.payload)
            if not hmac.compare_digest(sig.tag, expected):
                raise _Refusal(MessageFault.INVALID_SIGNATURE, resync=True)
            plaintext = request.payload
        else:
            if len(sig.nonce) != GCM_NONCE_LENGTH:
                raise _Refusal(MessageFault.IV_INCORRECT_LENGTH)
            try:
                plaintext = AESGCM(session.key).decrypt(
                    sig.nonce, request.payload + sig.tag, command_gcm_aad(fields)
                )
            except InvalidTag as err:
                raise _Refusal(MessageFault.INVALID_SIGNATURE, resync=True) from err
        if sig.counter > 0:
            self._count(state, session, sig.counter)
        return plaintext

    @staticmethod
    def _count(state: _DomainState, session: _KeySession, counter: int) -> None:
        """Anti-replay: INFOTAINMENT keeps a window, VCSEC wants strict order."""
        if state.domain == Domain.VEHICLE_SECURITY:
            ok = counter > session.counter
            new_counter, window = (counter, 0) if ok else (session.counter, 0)
        else:
            new_counter, window, ok = update_sliding_window(
                session.counter, session.window, counter
            )
        if not ok:
            raise _Refusal(MessageFault.INVALID_TOKEN_OR_COUNTER, resync=True)
        session.counter, session.window = new_counter, window

    def _encrypts(self) -> bool:
        match = _FIRMWARE.match(self.vehicle.firmware_version)
        if match is None:
            return True
        return (int(match[1]), int(match[2])) >= FIRST_ENCRYPTING_FIRMWARE

    def _response(
        self,
        state: _DomainState,
        session: _KeySession,
        request: RoutableMessage,
        sig: HmacPersonalized | GcmPersonalized,
        payload: bytes,
    ) -> bytes:
        """The answer to a verified command; encrypted when the flag asks."""
        reply = replace(self._reply(request, state), payload_field=PROTOBUF_MESSAGE)
        if not (request.flags & FLAG_ENCRYPT_RESPONSE and self._encrypts()):
            return replace(reply, payload=payload).encode()
        state.response_counter += 1
        counter = state.response_counter
        aad = response_aad(
            state.domain,
            self._vin,
            counter,
            0,
            request_id(state.domain, sig),
            MessageFault.NONE,
        )
        nonce = self._random(GCM_NONCE_LENGTH)
        sealed = AESGCM(session.key).encrypt(nonce, payload, aad)
        ciphertext, tag = sealed[:-16], sealed[-16:]
        return replace(
            reply,
            payload=ciphertext,
            signature_data=SignatureData(sig=GcmResponse(nonce, counter, tag)),
        ).encode()


def is_gcm_command(raw: bytes) -> bool:
    """Whether a message is an AES-GCM-personalized command (Fleet API blocks them)."""
    try:
        message = RoutableMessage.decode(raw)
    except DecodeError:
        return False
    signature = message.signature_data
    return signature is not None and isinstance(signature.sig, GcmPersonalized)
