# Folders an elevated primitive runs msiexec from or writes to. ProgramData lets every user create files and
# folders in anything made below it (Users:(CI)(WD,AD,WEA,WA), CREATOR OWNER full control of what they create),
# so such a folder gets its own ACL: owner Administrators, SYSTEM and Administrators full control, the given
# SIDs read or modify, nothing inherited. Well-known SIDs only: group names are localized.
function Get-RwAclKey($Security) {
    $sidType = [Security.Principal.SecurityIdentifier]
    $rules = @($Security.GetAccessRules($true, $true, $sidType) | ForEach-Object {
        '{0}/{1}/{2}/{3}/{4}/{5}' -f $_.IdentityReference.Value, [int]$_.FileSystemRights, $_.AccessControlType,
            [int]$_.InheritanceFlags, [int]$_.PropagationFlags, $_.IsInherited } | Sort-Object)
    (@($Security.GetOwner($sidType).Value, $Security.AreAccessRulesProtected) + $rules) -join ';'
}

# @{ state = 'ok', 'created' or 'reset'; removed = names } ('reset': the folder had another owner or ACL and was
# made anew, without what was in it). Throws when the path runs through a junction or symbolic link, when a folder
# above it has an owner that could swap it, or when a wrong folder cannot be (with -CheckOnly: must not be) reset.
function Protect-RwFolder {
    param ([string] $Path, [string[]] $Read = @(), [string[]] $Modify = @(), [switch] $CheckOnly)
    $full = [IO.Path]::GetFullPath($Path).TrimEnd('\')
    $parent = Split-Path -Path $full -Parent
    if ($parent -and -not (Test-Path -LiteralPath $parent)) { $null = New-Item -ItemType Directory -Path $parent -Force }
    $trusted = @('S-1-5-18', 'S-1-5-32-544', 'S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464')
    for ($walk = $full; $walk; $walk = Split-Path -Path $walk -Parent) {
        $item = Get-Item -LiteralPath $walk -Force -ErrorAction SilentlyContinue
        if ($null -eq $item) { continue }
        # Attributes are the link's own: a junction anywhere would redirect what an administrator writes.
        if ($item.Attributes -band [IO.FileAttributes]::ReparsePoint) {
            throw "refusing ${full}: $walk is a junction or symbolic link; an elevated process must not write through it"
        }
        $owner = $item.GetAccessControl('Owner').GetOwner([Security.Principal.SecurityIdentifier]).Value
        if ($walk -ne $full -and $trusted -notcontains $owner) {
            throw "refusing ${full}: $walk is owned by $owner, who could replace what is below it; remove it as an administrator"
        }
    }
    $want = New-Object Security.AccessControl.DirectorySecurity
    $want.SetOwner((New-Object Security.Principal.SecurityIdentifier 'S-1-5-32-544'))
    $want.SetAccessRuleProtection($true, $false)
    $grants = @(@('S-1-5-18', 'FullControl'), @('S-1-5-32-544', 'FullControl'))
    $grants += @($Read | ForEach-Object { , @($_, 'ReadAndExecute') }) + @($Modify | ForEach-Object { , @($_, 'Modify') })
    foreach ($grant in $grants) {
        $sid = New-Object Security.Principal.SecurityIdentifier $grant[0]
        $want.AddAccessRule((New-Object Security.AccessControl.FileSystemAccessRule $sid, $grant[1], 'ContainerInherit, ObjectInherit', 'None', 'Allow'))
    }
    $state = 'created'; $removed = @()
    if (Test-Path -LiteralPath $full) {
        if ((Get-RwAclKey ([IO.Directory]::GetAccessControl($full))) -eq (Get-RwAclKey $want)) { return @{ state = 'ok'; removed = @() } }
        if ($CheckOnly) { throw "refusing ${full}: its owner or ACL changed since it was checked (others than administrators may write to it)" }
        # Not SetAccessControl: it would follow a junction a user made a moment after the check above. Nothing
        # in the folder can be trusted either, so it goes; Directory.Delete never recurses through a junction.
        $state = 'reset'; $removed = @(Get-ChildItem -LiteralPath $full -Force -Name)
        try { [IO.Directory]::Delete($full, $true) } catch {
            throw "${full} lets others than administrators write to it and cannot be removed ($($_.Exception.GetBaseException().Message)); remove it as an administrator and run again"
        }
    }
    # Created with its ACL in one call; CreateDirectory also succeeds when someone made the folder first: look again.
    $null = [IO.Directory]::CreateDirectory($full, $want)
    $item = Get-Item -LiteralPath $full -Force
    if (($item.Attributes -band [IO.FileAttributes]::ReparsePoint) -or (Get-RwAclKey ([IO.Directory]::GetAccessControl($full))) -ne (Get-RwAclKey $want)) {
        throw "refusing ${full}: someone else created or replaced it while it was being made"
    }
    @{ state = $state; removed = [string[]]$removed }
}
