# The last lines of an msiexec log, as new .NET strings. Get-Content's lines carry PSPath, PSDrive and
# PSProvider note properties in Windows PowerShell 5.1 that ConvertTo-Json walks and hangs on
# (PowerShell/PowerShell#6388, ansible.windows#373), and a [string] cast does not reliably drop them:
# PowerShell keeps instance members of a wrapped object in a table keyed by the object itself. Lines
# decoded here never had a wrapper. Only the file's end is read, so a log of any size costs the same.
function Read-RwLogTail {
    param ([string] $Path, [int] $Lines = 40, [int] $MaxBytes = 262144)
    if (-not $Path -or -not [IO.File]::Exists($Path)) { return ,@() }
    $share = [IO.FileShare]::ReadWrite -bor [IO.FileShare]::Delete
    $stream = New-Object IO.FileStream $Path, 'Open', 'Read', $share
    try {
        $head = New-Object byte[] 2
        $unicode = ($stream.Read($head, 0, 2) -eq 2) -and $head[0] -eq 0xFF -and $head[1] -eq 0xFE
        # Start on an even offset past the BOM so UTF-16LE characters stay aligned.
        $start = [Math]::Max([int64]2, $stream.Length - $MaxBytes)
        if ($unicode -and ($start % 2) -ne 0) { $start++ }
        if (-not $unicode) { $start = [Math]::Max([int64]0, $stream.Length - $MaxBytes) }
        $null = $stream.Seek($start, 'Begin')
        $buffer = New-Object byte[] ($stream.Length - $start)
        $read = 0
        while ($read -lt $buffer.Length) {
            $got = $stream.Read($buffer, $read, $buffer.Length - $read)
            if ($got -le 0) { break }
            $read += $got
        }
    }
    finally { $stream.Dispose() }
    $encoding = if ($unicode) { [Text.Encoding]::Unicode } else { [Text.Encoding]::UTF8 }
    $text = $encoding.GetString($buffer, 0, $read)
    $all = $text.Split([string[]]@("`r`n", "`n"), [StringSplitOptions]::None)
    $kept = @($all | Where-Object { $_.Length -gt 0 })
    if ($kept.Count -gt $Lines) { $kept = $kept[($kept.Count - $Lines)..($kept.Count - 1)] }
    return ,[string[]]$kept
}
