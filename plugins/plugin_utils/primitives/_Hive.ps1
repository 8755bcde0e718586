# Another user's registry hive, as administrator. HKU\<SID> exists only while that user's hive is loaded
# (logged on, or a process runs with the profile); for anyone else the profile's NTUSER.DAT is loaded for
# the moment as HKU\rw_<SID> and unloaded afterwards. reg.exe unload answers "Access is denied" while any
# handle into the hive is open, and PowerShell's registry provider lets its keys go only when they are
# collected: hence the collection before the unload.
function Get-RwProfilePath {
    param ([string] $Sid)
    $key = "HKLM:\SOFTWARE\Microsoft\Windows NT\CurrentVersion\ProfileList\$Sid"
    $item = Get-ItemProperty -LiteralPath $key -ErrorAction SilentlyContinue
    $path = [string](Get-RwValue $item 'ProfileImagePath')
    if (-not $path) { return $null }
    return [Environment]::ExpandEnvironmentVariables($path)
}

# reg.exe writes its errors to stderr, which 5.1 turns into a terminating error under 'Stop' (and so loses
# the exit code): this scope keeps going, and the caller gets reg.exe's own words.
function Invoke-RwReg {
    param ([string[]] $Arguments)
    $ErrorActionPreference = 'Continue'
    $reg = Join-Path -Path $env:SystemRoot -ChildPath 'System32\reg.exe'
    $output = @(& $reg $Arguments 2>&1 | ForEach-Object { [string]$_ })
    return @{ rc = $LASTEXITCODE; output = ($output -join ' ').Trim() }
}

# Runs $Script with the hive's root (Registry::HKEY_USERS\<name>) as its argument and returns its result.
function Invoke-RwUserHive {
    param ([string] $Sid, [string] $ProfilePath, [scriptblock] $Script)
    $loaded = "Registry::HKEY_USERS\$Sid"
    if (Test-Path -LiteralPath $loaded) { return (& $Script $loaded) }
    if (-not $ProfilePath) { throw "no profile path for $Sid in ProfileList" }
    $mount = "HKU\rw_$Sid"
    $load = Invoke-RwReg -Arguments @('load', $mount, (Join-Path -Path $ProfilePath -ChildPath 'NTUSER.DAT'))
    if ($load.rc -ne 0) { throw "reg.exe load $mount failed ($($load.rc)): $($load.output)" }
    try { return (& $Script "Registry::HKEY_USERS\rw_$Sid") }
    finally {
        [gc]::Collect()
        [gc]::WaitForPendingFinalizers()
        $unload = Invoke-RwReg -Arguments @('unload', $mount)
        if ($unload.rc -ne 0) { throw "reg.exe unload $mount failed ($($unload.rc)): $($unload.output)" }
    }
}
