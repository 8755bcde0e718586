"""WS-Management SOAP: parse the requests pywinrm sends and build the replies it expects."""

from __future__ import annotations

import base64
import re
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from xml.sax.saxutils import escape

NS = {
    "s": "http://www.w3.org/2003/05/soap-envelope",
    "a": "http://schemas.xmlsoap.org/ws/2004/08/addressing",
    "w": "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd",
    "rsp": "http://schemas.microsoft.com/wbem/wsman/1/windows/shell",
    "x": "http://schemas.xmlsoap.org/ws/2004/09/transfer",
    "p": "http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd",
    "f": "http://schemas.microsoft.com/wbem/wsman/1/wsmanfault",
}
TRANSFER = "http://schemas.xmlsoap.org/ws/2004/09/transfer/"
SHELL = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/"
SHELL_RESOURCE = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd"
STATE_DONE = SHELL + "CommandState/Done"
STATE_RUNNING = SHELL + "CommandState/Running"
SIGNAL_TERMINATE = SHELL + "signal/terminate"
SIGNAL_CTRL_C = SHELL + "signal/ctrl_c"

# Fault codes as real WinRM reports them (pywinrm keys its retry logic on the first).
CODE_OPERATION_TIMEOUT = 2150858793
CODE_SHELL_NOT_FOUND = 2150858843
CODE_INVALID_SELECTORS = 2150858813
CODE_ACTION_NOT_SUPPORTED = 2150858783
CODE_BAD_REQUEST = 2150859002
# Quota faults, ERROR_WSMAN_QUOTA_* of wsmerror.h (as PowerShell's CimCmdlets copy them): MAX_SHELLS 0x803381A5,
# MAX_OPERATIONS 0x803381A6.
CODE_QUOTA_MAX_SHELLS = 2150859173
CODE_QUOTA_MAX_OPERATIONS = 2150859174
WMI_ERROR_NS = "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/MSFT_WmiError"

_DURATION = re.compile(r"^P(?:T(?:(?P<h>[\d.]+)H)?(?:(?P<m>[\d.]+)M)?(?:(?P<s>[\d.]+)S)?)?$")


def parse_duration(text: str | None, default: float) -> float:
    """Seconds in an xs:duration like ``PT20S`` or ``PT20.000S``."""
    match = _DURATION.match((text or "").strip())
    if not match:
        return default
    return float(match["h"] or 0) * 3600 + float(match["m"] or 0) * 60 + float(match["s"] or 0)


class WSManFault(Exception):
    """A request the lab answers with a SOAP fault (HTTP 500 like real WinRM)."""

    def __init__(
        self,
        code: int,
        subcode: str,
        message: str,
        status: int = 500,
        *,
        reason: str | None = None,
        sender: bool | None = None,
        wmi_error: bool = False,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.subcode = subcode
        self.message = message
        self.status = status
        # Windows' s:Reason can be shorter than the detail's message (the shell quota fault).
        self.reason = reason if reason is not None else message
        # s:Sender or s:Receiver; by default from the status, like the lab always did.
        self.sender = sender if sender is not None else status < 500
        # Some quota faults carry an MSFT_WmiError detail instead of f:WSManFault; pywinrm reads its
        # error_Code as wmierror_code and ansible-core's winrm plugin keys its shell re-creation on it.
        self.wmi_error = wmi_error


@dataclass(slots=True)
class StreamChunk:
    name: str
    command_id: str | None
    end: bool
    data: bytes


@dataclass(slots=True)
class WSManRequest:
    action: str
    message_id: str
    resource_uri: str
    shell_id: str | None
    operation_timeout: float
    body: ET.Element | None
    options: dict[str, str] = field(default_factory=dict)

    def body_child(self, prefix: str, local: str) -> ET.Element | None:
        if self.body is None:
            return None
        return self.body.find(f"{prefix}:{local}", NS)


def parse_request(data: bytes) -> WSManRequest:
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise WSManFault(CODE_BAD_REQUEST, "w:InvalidMessage", f"malformed SOAP envelope: {exc}", 400) from exc
    header = root.find("s:Header", NS)
    body = root.find("s:Body", NS)
    if header is None:
        raise WSManFault(CODE_BAD_REQUEST, "w:InvalidMessage", "SOAP envelope without Header", 400)
    action = (header.findtext("a:Action", "", NS) or "").strip()
    message_id = (header.findtext("a:MessageID", "", NS) or "").strip()
    shell_id = None
    options: dict[str, str] = {}
    for selector in header.iterfind("w:SelectorSet/w:Selector", NS):
        if selector.get("Name") == "ShellId":
            shell_id = (selector.text or "").strip()
    for option in header.iterfind("w:OptionSet/w:Option", NS):
        options[option.get("Name", "")] = (option.text or "").strip()
    return WSManRequest(
        action=action,
        message_id=message_id,
        resource_uri=(header.findtext("w:ResourceURI", "", NS) or "").strip(),
        shell_id=shell_id,
        operation_timeout=parse_duration(header.findtext("w:OperationTimeout", None, NS), 60.0),
        body=body,
        options=options,
    )


_ENVELOPE = (
    '<s:Envelope xml:lang="en-US" xmlns:s="{s}" xmlns:a="{a}" xmlns:x="{x}" xmlns:w="{w}" xmlns:rsp="{rsp}" '
    'xmlns:p="{p}"><s:Header><a:Action>{{action}}</a:Action><a:MessageID>uuid:{{mid}}</a:MessageID>'
    "<a:To>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:To>"
    "<a:RelatesTo>{{relates}}</a:RelatesTo>{{extra}}</s:Header><s:Body>{{body}}</s:Body></s:Envelope>"
).format(**NS)


def envelope(action: str, relates_to: str, body: str, extra_header: str = "") -> bytes:
    return _ENVELOPE.format(
        action=escape(action), mid=str(uuid.uuid4()).upper(), relates=escape(relates_to), extra=extra_header, body=body
    ).encode("utf-8")


def fault_envelope(relates_to: str, fault: WSManFault, machine: str) -> bytes:
    code = "s:Sender" if fault.sender else "s:Receiver"
    if fault.wmi_error:
        # The MSFT_WmiError detail as in winrm-fs#15 (HRESULT 0x803381a6, CIMStatusCode 27) and pywinrm's tests.
        detail = (
            f'<p:MSFT_WmiError xmlns:p="{WMI_ERROR_NS}" '
            'xmlns:b="http://schemas.dmtf.org/wbem/wsman/1/cimbinding.xsd" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
            'xmlns:cim="http://schemas.dmtf.org/wbem/wscim/1/common" '
            'b:IsCIM_Error="true" xsi:type="p:MSFT_WmiError_Type">'
            '<p:CIMStatusCode xsi:type="cim:cimUnsignedInt">27</p:CIMStatusCode>'
            f'<p:Message xsi:type="cim:cimString">{escape(fault.message)}</p:Message>'
            f'<p:MessageID xsi:type="cim:cimString">HRESULT 0x{fault.code:08x}</p:MessageID>'
            '<p:error_Category xsi:type="cim:cimUnsignedInt">30</p:error_Category>'
            f'<p:error_Code xsi:type="cim:cimUnsignedInt">{fault.code}</p:error_Code>'
            '<p:error_Type xsi:type="cim:cimString">HRESULT</p:error_Type>'
            '<p:error_WindowsErrorMessage xsi:type="cim:cimString">'
            f"{escape(fault.message)}</p:error_WindowsErrorMessage>"
            "</p:MSFT_WmiError>"
        )
    else:
        detail = (
            f'<f:WSManFault xmlns:f="{NS["f"]}" Code="{fault.code}" Machine="{escape(machine)}">'
            f"<f:Message>{escape(fault.message)}</f:Message></f:WSManFault>"
        )
    body = (
        f"<s:Fault><s:Code><s:Value>{code}</s:Value><s:Subcode><s:Value>{escape(fault.subcode)}</s:Value></s:Subcode>"
        f'</s:Code><s:Reason><s:Text xml:lang="en-US">{escape(fault.reason)}</s:Text></s:Reason><s:Detail>'
        f"{detail}</s:Detail></s:Fault>"
    )
    return envelope("http://schemas.dmtf.org/wbem/wsman/1/wsman/fault", relates_to, body)


def operation_timeout_fault() -> WSManFault:
    return WSManFault(
        CODE_OPERATION_TIMEOUT,
        "w:TimedOut",
        "The WS-Management service cannot complete the operation within the time specified in OperationTimeout.",
    )


def shell_not_found(shell_id: str | None) -> WSManFault:
    # Windows' text as quoted in WinRb/WinRM#146, #196 and #273 (the trailing space is Windows').
    return WSManFault(
        CODE_SHELL_NOT_FOUND,
        "w:InvalidSelectors",
        f"The request for the Windows Remote Shell with ShellId {shell_id} failed because the shell was not found on "
        "the server. Possible causes are: the specified ShellId is incorrect or the shell no longer exists on the "
        "server. Provide the correct ShellId or create a new shell and retry the operation. ",
    )


def shell_quota_fault(limit: int) -> WSManFault:
    """MaxShellsPerUser exceeded: a wsman:QuotaLimit fault on Create (MS-WSMV 3.1.4.5.2.1).

    Texts and code as a Windows server sends them: WinRb/WinRM's spec fixture of a real reply
    (s:Sender, w:QuotaLimit, Code 2150859173) and the f:Message quoted in test-kitchen#656,
    dmitry-zaets/vagrantfile-windows-iis-mssql#9 and CrowdStrike/falcon-orchestrator#20.
    """
    return WSManFault(
        CODE_QUOTA_MAX_SHELLS,
        "w:QuotaLimit",
        f"The WS-Management service cannot process the request. This user is allowed a maximum number of {limit} "
        "concurrent shells, which has been exceeded. Close existing shells or raise the quota for this user. ",
        reason="The WS-Management service cannot process the request. The maximum number of concurrent shells for "
        "this user has been exceeded. Close existing shells or raise the quota for this user.",
        sender=True,
    )


def operation_quota_fault(limit: int) -> WSManFault:
    """MaxConcurrentOperationsPerUser exceeded, as an MSFT_WmiError (HRESULT 0x803381A6).

    Message as quoted in pywinrm#124, masterzen/winrm#129 and WinRb/winrm-fs#15 (the last shows the
    MSFT_WmiError form that ansible-core 2.19's winrm plugin checks for, then re-creates its shell).
    """
    return WSManFault(
        CODE_QUOTA_MAX_OPERATIONS,
        "w:InternalError",
        f"The WS-Management service cannot process the request. This user is allowed a maximum number of {limit} "
        "concurrent operations, which has been exceeded. Close existing operations for this user, or raise the "
        "quota for this user. ",
        sender=False,
        wmi_error=True,
    )


def command_not_found(command_id: str | None) -> WSManFault:
    return WSManFault(
        CODE_INVALID_SELECTORS,
        "w:InvalidSelectors",
        f"The WS-Management service cannot process the request because the CommandId {command_id} is not valid.",
    )


def shell_created(relates_to: str, shell_id: str, address: str) -> bytes:
    body = (
        f"<x:ResourceCreated><a:Address>http://{escape(address)}:5985/wsman</a:Address><a:ReferenceParameters>"
        f"<w:ResourceURI>{SHELL_RESOURCE}</w:ResourceURI><w:SelectorSet>"
        f'<w:Selector Name="ShellId">{shell_id}</w:Selector></w:SelectorSet></a:ReferenceParameters>'
        f"</x:ResourceCreated><rsp:Shell><rsp:ShellId>{shell_id}</rsp:ShellId>"
        f"<rsp:ResourceUri>{SHELL_RESOURCE}</rsp:ResourceUri><rsp:InputStreams>stdin</rsp:InputStreams>"
        "<rsp:OutputStreams>stdout stderr</rsp:OutputStreams></rsp:Shell>"
    )
    return envelope(TRANSFER + "CreateResponse", relates_to, body)


def command_started(relates_to: str, command_id: str) -> bytes:
    body = f"<rsp:CommandResponse><rsp:CommandId>{command_id}</rsp:CommandId></rsp:CommandResponse>"
    return envelope(SHELL + "CommandResponse", relates_to, body)


def send_done(relates_to: str) -> bytes:
    return envelope(SHELL + "SendResponse", relates_to, "<rsp:SendResponse/>")


def signal_done(relates_to: str) -> bytes:
    return envelope(SHELL + "SignalResponse", relates_to, "<rsp:SignalResponse/>")


def deleted(relates_to: str) -> bytes:
    return envelope(TRANSFER + "DeleteResponse", relates_to, "")


def receive_output(
    relates_to: str, command_id: str, stdout: list[str], stderr: list[str], exit_code: int | None
) -> bytes:
    """Receive reply: base64 stream chunks (already encoded) and the command state."""
    parts = ["<rsp:ReceiveResponse>"]
    parts.extend(f'<rsp:Stream Name="stdout" CommandId="{command_id}">{chunk}</rsp:Stream>' for chunk in stdout)
    parts.extend(f'<rsp:Stream Name="stderr" CommandId="{command_id}">{chunk}</rsp:Stream>' for chunk in stderr)
    if exit_code is None:
        parts.append(f'<rsp:CommandState CommandId="{command_id}" State="{STATE_RUNNING}"/>')
    else:
        parts.append(f'<rsp:Stream Name="stdout" CommandId="{command_id}" End="true"></rsp:Stream>')
        parts.append(f'<rsp:Stream Name="stderr" CommandId="{command_id}" End="true"></rsp:Stream>')
        parts.append(
            f'<rsp:CommandState CommandId="{command_id}" State="{STATE_DONE}">'
            f"<rsp:ExitCode>{exit_code}</rsp:ExitCode></rsp:CommandState>"
        )
    parts.append("</rsp:ReceiveResponse>")
    return envelope(SHELL + "ReceiveResponse", relates_to, "".join(parts))


def read_stream(element: ET.Element) -> StreamChunk:
    return StreamChunk(
        name=element.get("Name", ""),
        command_id=element.get("CommandId"),
        end=element.get("End", "false").lower() == "true",
        data=base64.b64decode(element.text or ""),
    )
