"""WinRM (WS-Management over HTTP/1.1) server for simulated hosts.

Layers, bottom up: :mod:`.http` (a minimal keep-alive HTTP/1.1 server, because
NTLM authenticates the TCP connection), :mod:`.auth` (Basic, NTLM and NTLM
message encryption), :mod:`.wsman` (SOAP envelopes and faults), :mod:`.commands`
(what a command line means: ansible-core's bootstrap scripts, the collection's
primitives, or "not implemented"), :mod:`.server` (shells and commands of one host).
:mod:`.hostapi` declares what these need from a host model (:class:`~.hostapi.WinRMHost`).
"""
