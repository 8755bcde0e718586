# Prepended to every primitive: arguments arrive as one JSON object on stdin,
# exactly as ansible-core's bootstrap_wrapper.ps1 reads its input.
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
$rwInput = foreach ($rwLine in $input) { $rwLine }
$rwArgs = ConvertFrom-Json -InputObject (($rwInput -join "`n").Trim())

function Write-RwResult {
    param ([Parameter(Mandatory)] $Result)
    [Console]::Out.WriteLine((ConvertTo-Json -InputObject $Result -Depth 10 -Compress))
}

trap {
    Write-RwResult -Result @{ failed = $true; msg = $_.Exception.Message }
    exit 1
}
