# Copyright (c) rollout.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# This file holds documentation only: the module runs as the action plugin of the same name.

from __future__ import annotations

DOCUMENTATION = r"""
module: msi_package
short_description: Install, upgrade or remove an MSI package with its payload folder on Windows
version_added: 0.1.0
description:
  - Installs, upgrades or removes a Windows Installer package per machine over WinRM, or per user
    with O(scope=user).
  - All decisions run on the controller. The host runs small PowerShell primitives, one
    WinRM command each; a host that already has the wanted version costs one command and
    reports C(ok) without transferring anything.
  - Idempotency is by ProductCode B(and) version. An installed equal version is left alone,
    an older one is upgraded, a newer one is left alone unless O(allow_downgrade=true).
  - The package folder (the C(.msi) and the payload folder beside it) is copied into a
    content-addressed cache on the host, skipping files whose hash already matches.
    Payload files the package needs but the folder lacks are an error before msiexec runs.
  - With O(url) the B(host) downloads the package over HTTPS (its own certificate trust applies, and
    O(proxy) or the system proxy) into the same cache, in a folder named after O(checksum). As for TLS, a
    host whose .NET lets Windows choose (C(SystemDefault)) keeps that, so TLS 1.3 is used where Windows
    has it; on others TLS 1.2 is enabled and SSL 3.0, TLS 1.0 and TLS 1.1 are turned off. Redirects
    are not followed; a server that answers with one fails the task, naming where it points; give
    that final URL.
    The download is kept only when its SHA-256 matches; a host that already has it does not
    download it again. A C(.zip) is expanded there; a bare C(.msi) that needs a payload folder
    is refused naming the missing files, before msiexec runs. One download may take at most an
    hour and 8 GiB.
  - msiexec gets an argument array; property values are passed literally.
    Exit code 1618 (another installation in progress) is retried with backoff until
    O(busy_timeout); 3010 and 1641 succeed with RV(reboot_required=true); every other
    non-zero exit code fails with its meaning and the tail of the verbose MSI log.
  - With O(scope=user) the package must be a per-user one (C(ALLUSERS) empty, or C(ALLUSERS=2)
    with C(MSIINSTALLPERUSER=1)); a per-machine package is refused before anything runs.
    Idempotency is per user (ProductCode and version installed for that user's SID). For each
    logged-on user who needs the product, msiexec runs B(in that user's context), as a one-shot
    scheduled task whose principal is the user (interactive, limited token) is registered and
    started, polled until it ends (each poll waits on the host for at most a few seconds; the
    controller bounds the total with O(user_timeout)), then its exit code and log tail are read
    and the task is removed. Users are handled one after another, as Windows Installer runs one
    installation per computer at a time. A user who needs the product but is not logged on is
    reported as C(pending), not failed; O(active_setup=true) installs for them at their next logon.
options:
  state:
    description:
      - V(present) installs or upgrades, V(absent) removes the product.
    type: str
    choices: [present, absent]
    default: present
  scope:
    description:
      - V(machine) installs for the whole computer (C(ALLUSERS=1)).
      - V(user) installs into the profiles of the users given by O(users) and O(logged_on_users),
        each in their own context. Needs a per-user package.
    type: str
    choices: [machine, user]
    default: machine
  users:
    description:
      - With O(scope=user), accounts to install for (C(name), C(COMPUTER\name) or C(DOMAIN\name)).
        One that does not resolve to a SID fails that user; one not logged on is C(pending).
    type: list
    elements: str
    default: []
  logged_on_users:
    description:
      - With O(scope=user), also install for every user logged on interactively now (a session
        running the desktop shell).
      - Defaults to V(true) when O(users) is empty, V(false) otherwise.
    type: bool
  active_setup:
    description:
      - With O(scope=user) and O(state=present), register an Active Setup component so every user
        who logs on later (and every C(pending) user) gets the package installed in their context
        at their next logon, from the host cache (or O(path)), with O(properties) and O(transforms).
      - The component is keyed by the UpgradeCode (the ProductCode without one) and stamped with the
        package version, so a new version runs again for each user; an unchanged one is left alone.
      - Property values and paths with C(%) or line breaks are refused, since Active Setup expands
        C(%VARIABLES%) in the command line it stores.
      - V(false) leaves an existing registration as it is. O(state=absent) with O(scope=user)
        always removes the product's component, which would otherwise install it again.
    type: bool
    default: false
  user_timeout:
    description:
      - With O(scope=user), seconds to wait for each user's msiexec to end before that user is
        reported as failed (the task is then left in place for inspection).
    type: int
    default: 1800
  src:
    description:
      - Package on the controller, either the C(.msi) file or the folder holding exactly one
        C(.msi) and its payload folder. Product facts are read from it on the controller.
      - Mutually exclusive with O(path) and O(url).
    type: path
  path:
    description:
      - Path of the C(.msi) on the host (local or UNC). Product facts are read on the host
        unless O(product_code) and O(version) are given.
      - Mutually exclusive with O(src) and O(url).
    type: str
  url:
    description:
      - HTTPS URL the host downloads the package from (C(https://) only), naming either a C(.msi)
        or a C(.zip) that holds the C(.msi) and its payload folder (at the top level of the zip or
        inside one top folder, as C(zip -r suite-9.3.1.zip suite-9.3.1) makes it).
      - Needs O(checksum). Mutually exclusive with O(src) and O(path). Credentials in the URL are
        refused (it is logged and returned).
      - With O(product_code) and O(version) given, a host that has that version installed costs one
        command and downloads nothing. Otherwise the host downloads the package (or finds it in its
        cache) and product facts are read there, as for O(path); given facts must match the package.
      - In check mode nothing is downloaded. When the package is not in the host cache yet and
        O(product_code) is not given (or O(scope=user), which must read the package), the result
        is a change with a warning.
      - The download runs B(on the host, as the WinRM account), which matters for proxies and file
        shares (the double hop). Over WinRM with NTLM or Kerberos (no CredSSP, no Kerberos
        delegation) the host cannot pass your credentials on to a third machine, so it reaches the
        proxy and the server anonymously (a process running as SYSTEM would use the computer
        account, C(DOMAIN\PC$)). The URL, and any proxy on the way, must therefore let the host in
        without your credentials; a proxy that wants them answers 407 and the task fails saying so.
    type: str
  proxy:
    description:
      - Proxy for the download, as C(http://host:port) (or C(https://)); only with O(url).
        Credentials in it are refused.
      - Not given, the host uses its system proxy as C([Net.WebRequest]::DefaultWebProxy) gives it,
        the Internet Options (WinINet) proxy of the WinRM account. The WinHTTP proxy
        (C(netsh winhttp)) is B(not) used.
        A WinRM account that never set one has none, so the download goes direct; give O(proxy) on
        networks where only a proxy gets out.
    type: str
  proxy_use_default_credentials:
    description:
      - Offer the WinRM account's own Windows credentials (NTLM, Kerberos) to the proxy.
      - Over WinRM with NTLM or Kerberos this rarely helps, as the session holds no credentials it may
        pass on (the double hop), so the proxy still sees an anonymous request. It works with
        CredSSP, Kerberos delegation or C(become).
    type: bool
    default: false
  checksum:
    description:
      - SHA-256 of the file O(url) names, as C(sha256:<64 hex digits>) or the 64 hex digits alone.
        Other algorithms are refused.
      - The download is deleted and the task fails, naming the expected and actual hash, when it
        does not match. The checksum also names the package's cache folder on the host, so a new file
        at the same URL (given with its new checksum) is downloaded again.
      - Required with O(url), and only with it.
    type: str
  product_code:
    description:
      - ProductCode GUID. Required with O(state=absent) when neither O(src) nor O(path) is given.
      - Overrides what the package says.
    type: str
  upgrade_code:
    description:
      - UpgradeCode GUID of the product family; finds an older or newer installed version
        under another ProductCode. Overrides what the package says.
    type: str
  version:
    description:
      - ProductVersion the package installs (C(major.minor.build)); overrides what the package says.
      - With O(src), O(product_code), O(version) and O(upgrade_code) all given (per machine, for example from the
        P(rollout.windows.msi_facts#lookup) lookup), the task decides from them and reads the package only when it
        delivers it; that read refuses a package whose facts differ from the given ones, before the host is touched.
        A host that already has the version then costs the controller no read of the package.
    type: str
  properties:
    description:
      - Windows Installer properties, passed literally as C(NAME=value).
      - Booleans become C(1)/C(0). Give transforms in O(transforms), not as C(TRANSFORMS).
    type: dict
    default: {}
  secret_properties:
    description:
      - Windows Installer properties whose values are secret, such as a licence key or a service
        password; passed to msiexec like O(properties) (each name in one of the two only).
      - The module names them in C(MsiHiddenProperties), so Windows Installer writes asterisks
        instead of their values into its verbose log, and masks them in everything it returns
        (result, diff, warnings, errors, RV(log_tail)). The value is marked C(no_log).
      - "Where a Debug policy of 7 is set, Windows Installer logs command-line properties anyway;
        the log folder (O(log_dir)) is then the protection: only SYSTEM and Administrators can read
        or write it. The running msiexec's command line is visible to administrators of the host."
      - Refused with O(scope=user) (and so with O(active_setup)), since a per-user install runs as
        that user, who could read the value from the task command line and the log.
      - A signed download URL (O(url) with a token in its query string) is masked the same way.
      - Values under 4 characters are refused, since masking them would hide unrelated text.
    type: dict
    default: {}
  transforms:
    description:
      - Transform (C(.mst)) paths on the host, applied in order.
    type: list
    elements: str
    default: []
  allow_downgrade:
    description:
      - Replace a newer installed version with the package's older one (removes the newer
        product first).
    type: bool
    default: false
  busy_timeout:
    description:
      - Seconds to keep retrying while another installation runs (exit code 1618), with
        exponential backoff and jitter between attempts.
    type: int
    default: 600
  msiexec_timeout:
    description:
      - Seconds to wait for one msiexec run (per machine) before the task fails with C(still_running).
      - The run is never stopped, since killing msiexec mid-transaction can leave the product half
        installed. It goes on in the background and holds the Windows Installer mutex, so a rerun
        meets exit code 1618 and waits for it within O(busy_timeout).
      - Per-user runs are bounded by O(user_timeout) instead.
    type: int
    default: 3600
  cache_dir:
    description:
      - Folder on the host for the content-addressed package cache.
    type: str
    default: C:\ProgramData\rollout.windows\cache
  log_dir:
    description:
      - Folder on the host for verbose msiexec logs (one file per run).
    type: str
    default: C:\ProgramData\rollout.windows\logs
  restart_manager:
    description:
      - Whether msiexec may shut down the applications that hold files of the package, passed as the
        C(MSIRESTARTMANAGERCONTROL) property on every install and uninstall (also in O(active_setup)'s command).
        A quiet msiexec (C(/qn)) left to itself lets Restart Manager close those applications, in every
        user's session, without asking anyone.
      - V(disable) (default) keeps Restart Manager out (C(MSIRESTARTMANAGERCONTROL=Disable)). No application
        is closed; files in use are replaced at the next restart, the run ends with exit code 3010 and
        RV(reboot_required=true). Users keep working with the old files until then.
      - V(disable_shutdown) (C(MSIRESTARTMANAGERCONTROL=DisableShutdown)) still lets Restart Manager find the
        files in use, but it shuts nothing down; for users the same as V(disable).
      - V(enable) passes no property, so Restart Manager shuts the applications down before replacing
        their files, and B(unsaved work in them is lost) (documents, mails being written). Choose it only where
        that is acceptable, for example after closing the applications with
        M(rollout.windows.office_processes) and O(rollout.windows.office_processes#module:force=true);
        every run then warns about it.
      - A C(MSIRESTARTMANAGERCONTROL) key in O(properties) is refused; this option sets it.
      - See U(https://learn.microsoft.com/windows/win32/msi/msirestartmanagercontrol).
    type: str
    choices: [disable, disable_shutdown, enable]
    default: disable
  office_gate:
    description:
      - Per machine only. Wait until no Office application runs before msiexec starts, in the same
        task, exactly as M(rollout.windows.office_processes) with
        O(rollout.windows.office_processes#module:state=absent) waits (the suboptions are that module's
        options and defaults). Not set, there is no gate.
      - The gate runs only when the package changes something, after the package has been copied and
        right before msiexec, so a host that already has the release costs one WinRM command and
        its users are never asked to close anything.
      - A package from O(src) of at most 1 MiB travels inside the command that writes it into the host's
        cache, and that command also takes the gate's first poll right after writing it, so an install with
        Office closed costs three WinRM commands. A larger package is polled after its files are copied.
      - A wait that runs out fails the task and nothing is installed; RV(office_gate) has the wait's result.
      - With O(restart_manager=enable), O(office_gate.force=true) is required, since msiexec would then
        close applications itself.
      - In check mode one poll reports who has Office open and what the wait would do.
    type: dict
    suboptions:
      processes:
        description: Process names to wait for, with or without C(.exe), no path.
        type: list
        elements: str
        default: [WINWORD, EXCEL, POWERPNT, OUTLOOK, ONENOTE, MSACCESS, MSPUB, VISIO, WINPROJ]
      interval:
        description: Seconds between polls; more than 0.
        type: int
        default: 120
      attempts:
        description: Number of polls, the first at once; at least 1.
        type: int
        default: 120
      notify:
        description: Show O(office_gate.message) in every session that has one of the applications open.
        type: bool
        default: false
      message:
        description: Text of the message box; at most 255 UTF-16 code units, no NUL characters.
        type: str
        default: >-
          An update for your Office add-ins is ready to install. Please save your work and close Word,
          Excel, PowerPoint, Outlook and the other Office applications. Thank you!
      title:
        description: Title of the message box; at most 64 UTF-16 code units.
        type: str
        default: Software update
      remind_interval:
        description:
          - Seconds after which the message is shown again; V(0) shows it once. Needs O(office_gate.notify=true).
        type: int
        default: 0
      force:
        description:
          - Close what still runs at O(office_gate.deadline). B(Unsaved data in those applications is lost);
            each closed process is reported and the task warns.
        type: bool
        default: false
      deadline:
        description:
          - Seconds after the start of the wait when still open applications are closed; required by
            O(office_gate.force=true).
        type: int
  reboot:
    description:
      - Per machine only. When msiexec says a restart is needed (exit code 3010), restart the host in
        the same task, as M(rollout.windows.reboot) does, and wait until it is back with a new boot
        time (before O(verify) reads the host).
      - V(false) leaves the host as it is and warns that it needs a restart.
    type: bool
    default: false
  reboot_timeout:
    description: With O(reboot=true), seconds to wait for the host to come back; more than 0.
    type: int
    default: 600
  reboot_msg:
    description: With O(reboot=true), the comment the users see with the restart; at most 512 characters.
    type: str
    default: Reboot initiated by Ansible
  verify:
    description:
      - Per machine only. After msiexec (and the restart), read what Windows Installer registered per
        machine and fail unless the package's ProductCode is registered with the package's version (or,
        with O(state=absent), not at all). It costs no WinRM command of its own - msiexec's command reads the
        registration right after msiexec, and when nothing changed the first read already showed it; only after
        a restart is the host read once more. RV(verified) says what was found.
    type: bool
    default: false
  options_from:
    description:
      - The name of a variable that holds this task's options as a mapping, used instead of options in the
        task; with it the task gives no other option. The mapping is checked like options in the task.
      - For a task that runs on many hosts with options built once, such as the C(msi_install_arguments) fact
        that the C(arguments) entry point of the rollout.windows.msi_install role sets. Given as
        C(args) with one template instead, the template is compiled again on every host, at about 4 ms of
        controller CPU each, and ansible-core warns on every host that templated task args are unsafe.
      - A value that is still a template (from group_vars, say) is rendered, as in the task.
    type: str
    version_added: 0.4.0
attributes:
  check_mode:
    details:
      - Reports what would be installed, upgraded or removed (per user with O(scope=user)); nothing is
        copied or run.
  diff_mode:
    details:
      - Shows the product and version before and after, per scope (per user, and the Active Setup
        component, with O(scope=user)).
extends_documentation_fragment:
  - rollout.windows._attributes
  - rollout.windows._attributes.diff_mode_full
  - rollout.windows._attributes.windows
author:
  - rollout.windows maintainers (@rollout-windows)
seealso:
  - module: rollout.windows.product_info
"""

EXAMPLES = r"""
- name: Install or upgrade the suite from a package folder on the controller
  rollout.windows.msi_package:
    src: packages/suite-9.3.1
    properties:
      BACKENDURL: https://backend.example.com

- name: Install with a licence key that must not appear in logs or results
  rollout.windows.msi_package:
    src: packages/suite-9.3.1
    properties:
      BACKENDURL: https://backend.example.com
    secret_properties:
      LICENSEKEY: "{{ vault_suite_licence_key }}"

- name: Install from a share the hosts can read, facts given up front
  rollout.windows.msi_package:
    path: \\fileserver\packages\suite-9.3.1\Suite.msi
    product_code: "{10010F76-051B-5BDC-831E-4348D9B33A7F}"
    version: 9.3.1

- name: Install from a web server the hosts can reach, one command when 9.3.1 is already there
  rollout.windows.msi_package:
    url: https://packages.example.com/suite/suite-9.3.1.zip
    checksum: sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
    product_code: "{10010F76-051B-5BDC-831E-4348D9B33A7F}"
    version: 9.3.1

- name: Download through the branch office proxy (which must let the hosts through without credentials)
  rollout.windows.msi_package:
    url: https://packages.example.com/suite/suite-9.3.1.zip
    checksum: sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
    proxy: http://proxy.branch.example.com:8080

- name: Install the per-user variant for everyone logged on now and, at their next logon, for everyone else
  rollout.windows.msi_package:
    src: packages/suite-user-9.3.1
    scope: user
    active_setup: true

- name: Install the per-user variant for two named users
  rollout.windows.msi_package:
    src: packages/suite-user-9.3.1
    scope: user
    users: [anna, ben]

- name: Build the options once on the controller, then install with them on every host
  ansible.builtin.import_role:
    name: rollout.windows.msi_install
    tasks_from: arguments
  vars:
    msi_install_src: packages/suite-9.3.1
  run_once: true

- name: Give every host the options that were built once
  ansible.builtin.set_fact:
    suite_install: "{{ msi_install_arguments }}"
  run_once: true

- name: Install or upgrade with the options built once
  rollout.windows.msi_package:
    options_from: suite_install

- name: Remove the product
  rollout.windows.msi_package:
    product_code: "{10010F76-051B-5BDC-831E-4348D9B33A7F}"
    state: absent
"""

RETURN = r"""
action:
  description:
    - What was done (or, in check mode, would be done).
    - With O(scope=user), the action of the users acted on now; V(mixed) when they differ
      (RV(users) has each one).
  returned: always
  type: str
  sample: upgrade
  choices: [install, upgrade, downgrade, remove, none, mixed]
product_code:
  description: ProductCode of the package.
  returned: always
  type: str
  sample: "{10010F76-051B-5BDC-831E-4348D9B33A7F}"
upgrade_code:
  description: UpgradeCode of the package (the product family), when known.
  returned: always
  type: str
  sample: "{D5B73D5D-E084-5005-B246-8861ADA21E95}"
version:
  description: Version of the package.
  returned: when known
  type: str
  sample: 9.3.1
previous_version:
  description: Version installed before the task (null when none was; with O(scope=user) see RV(users)).
  returned: always
  type: str
  sample: 9.3.0
exit_code:
  description:
    - msiexec exit code of the last attempt. Not named C(rc) because Ansible treats any
      non-zero C(rc) as failure, and 3010 is a success.
  returned: when msiexec ran
  type: int
  sample: 3010
exit_code_meaning:
  description: What the exit code means.
  returned: when msiexec ran
  type: str
office_gate:
  description:
    - With O(office_gate) and a change to make, the gate's result, as M(rollout.windows.office_processes)
      returns it (RV(rollout.windows.office_processes#module:processes),
      RV(rollout.windows.office_processes#module:notified), RV(rollout.windows.office_processes#module:closed),
      polls, elapsed); in check mode the one poll's report.
  returned: when office_gate is set and the package changes something
  type: dict
  sample: {changed: false, processes: [], polls: 1, elapsed: 0, msg: "no Office application runs (after 1 poll(s), 0s)"}
reboot:
  description: The restart O(reboot=true) made after msiexec asked for one.
  returned: when the host was restarted
  type: dict
  sample:
    rebooted: true
    elapsed: 41.5
    previous_boot: "2026-12-01T06:00:00.0000000Z"
    last_boot: "2026-12-01T07:12:03.0000000Z"
verified:
  description:
    - With O(verify=true), the versions of the package's ProductCode registered per machine, and what was expected.
    - Read by msiexec's own command right after it ran (after a restart, by one more read).
  returned: when verify is true and no earlier step failed
  type: dict
  sample: {product_code: "{6D3B2A10-1C7E-4E55-9A61-0B1C2D3E4F50}", expected: ["9.3.1"], found: ["9.3.1"]}
reboot_required:
  description: The host must restart to finish (exit code 3010 or 1641).
  returned: always
  type: bool
restart_manager:
  description:
    - The O(restart_manager) msiexec ran with; with V(enable), a warning says applications may have been closed.
    - With O(scope=user), in each entry of RV(users) msiexec ran for.
  returned: when msiexec ran
  type: str
  sample: disable
log_path:
  description: Verbose MSI log on the host.
  returned: when msiexec ran
  type: str
log_tail:
  description: Last lines of the MSI log.
  returned: when msiexec failed
  type: list
  elements: str
busy_retries:
  description: How often msiexec answered 1618 and was tried again.
  returned: when msiexec ran
  type: int
still_running:
  description: msiexec did not finish within O(msiexec_timeout) and was left running on the host.
  returned: when that happened (the task failed)
  type: bool
  sample: true
users:
  description: With O(scope=user), one entry per user, in the order given, then the logged-on users.
  returned: when O(scope=user)
  type: list
  elements: dict
  contains:
    user:
      description: The account (C(COMPUTER\name)), or the name as given when it did not resolve.
      type: str
    action:
      description: What this user needs (V(install), V(upgrade), V(downgrade), V(remove) or V(none)).
      type: str
    previous_version:
      description: Version the user had before (null when none).
      type: str
    exit_code:
      description: msiexec exit code in the user's context (null when msiexec did not run).
      type: int
    exit_code_meaning:
      description: What the exit code means.
      type: str
    reboot_required:
      description: The install asked for a restart (3010 or 1641).
      type: bool
    status:
      description:
        - V(ok) nothing to do; V(changed) done (in check mode, would be done); V(pending) needs
          the product but is not logged on; V(failed) see C(msg).
      type: str
    log_path:
      description: Verbose MSI log of this user's run on the host.
      type: str
    log_tail:
      description: Last lines of the MSI log, when msiexec failed.
      type: list
      elements: str
    msg:
      description: Why this user failed.
      type: str
  sample:
    - {user: PC001\anna, action: upgrade, previous_version: 9.3.0, exit_code: 0,
       exit_code_meaning: The action completed successfully., reboot_required: false, status: changed}
    - {user: PC001\ben, action: install, previous_version: null, exit_code: null,
       exit_code_meaning: null, reboot_required: false, status: pending}
pending:
  description: With O(scope=user), users who need the product but are not logged on.
  returned: when O(scope=user)
  type: list
  elements: str
active_setup:
  description:
    - With O(scope=user), the product's Active Setup component under
      C(HKLM\SOFTWARE\Microsoft\Active Setup\Installed Components) and what was done to it
      (V(register), V(update), V(remove) or V(none)), with its C(name), C(version), C(stub_path).
  returned: when O(scope=user)
  type: dict
transferred:
  description: Files copied into the host cache (relative paths); empty when all matched.
  returned: when the package came from O(src)
  type: list
  elements: str
downloaded:
  description: The host downloaded the package in this run (V(false) when its cache had it or nothing was needed).
  returned: when the package came from O(url)
  type: bool
winrm:
  description: What the task cost on the wire.
  returned: always
  type: dict
  contains:
    commands:
      description: WinRM commands run (primitives and file transfers).
      type: int
    bytes_sent:
      description: Bytes of commands and stdin sent, file contents included.
      type: int
"""
