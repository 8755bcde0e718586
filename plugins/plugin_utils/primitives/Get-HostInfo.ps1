# Facts the action plugins decide on: name, OS, PowerShell, boot time, logged-on users.
$os = Get-CimInstance -ClassName Win32_OperatingSystem
$sessions = @(Get-CimInstance -ClassName Win32_LogonSession -Filter 'LogonType = 2 OR LogonType = 10' |
    ForEach-Object { Get-CimAssociatedInstance -InputObject $_ -ResultClassName Win32_Account } |
    Select-Object -ExpandProperty Caption -Unique)
Write-RwResult -Result @{
    computer_name = $env:COMPUTERNAME
    os_version = $os.Version
    powershell_version = $PSVersionTable.PSVersion.ToString()
    last_boot = $os.LastBootUpTime.ToUniversalTime().ToString('o')
    logged_on_users = $sessions
}
