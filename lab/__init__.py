"""Windows fleet simulator that serves the real WinRM protocol on loopback (test equipment, never shipped)."""
