# Prepended to every primitive: arguments arrive as one JSON object on stdin,
# exactly as ansible-core's bootstrap_wrapper.ps1 reads its input.
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
$rwInput = foreach ($rwLine in $input) { $rwLine }
$rwArgs = ConvertFrom-Json -InputObject (($rwInput -join "`n").Trim())

# ansible-core runs scripts under Set-StrictMode -Version Latest, where reading an
# argument the controller left out would throw: read optional ones through this.
function Get-RwValue {
    param ($Object, [string] $Name)
    if ($null -eq $Object) { return $null }
    $property = $Object.PSObject.Properties[$Name]
    if ($null -eq $property) { return $null }
    return $property.Value
}

function Write-RwResult {
    param ([Parameter(Mandatory)] $Result)
    [Console]::Out.WriteLine((ConvertTo-Json -InputObject $Result -Depth 10 -Compress))
}

trap {
    Write-RwResult -Result @{ failed = $true; msg = $_.Exception.Message }
    exit 1
}
