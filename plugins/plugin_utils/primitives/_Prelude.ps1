# Prepended to every primitive, which the bootstrap runs with its arguments, one JSON object, as
# pipeline input.
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'

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
    $json = ConvertTo-Json -InputObject $Result -Depth 10 -Compress
    # Anything beyond ASCII as \uXXXX: the result then reads the same whatever code page the
    # console really used ("Juergen" with an umlaut would otherwise depend on it).
    $json = [regex]::Replace($json, '[^\u0000-\u007F]', { param ($m) '\u{0:x4}' -f [int][char]$m.Value })
    [Console]::Out.WriteLine($json)
}

# A trap covers its whole scope, the lines above it too: nothing above defines more than
# functions, so it can never fire before Write-RwResult exists.
trap {
    Write-RwResult -Result @{ failed = $true; msg = $_.Exception.Message }
    exit 1
}

$rwInput = foreach ($rwLine in $input) { [string]$rwLine }
$rwArgs = ConvertFrom-Json -InputObject (($rwInput -join "`n").Trim())
