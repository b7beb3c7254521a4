"""azure-sim's region table is the pinned Azure CLI's, not cutover's: the simulator checks
locations against a list that came from a client known to work against real Azure."""

import os
import pathlib
import re
import subprocess

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_the_simulators_regions_are_the_pinned_azure_clis():
    table = (ROOT / "simulator/src/arm/regions.rs").read_text()
    block = re.search(r"const REGIONS: &\[&str\] = &\[(.*?)\];", table, re.S).group(1)
    simulator = re.findall(r'"([a-z0-9]+)"', block)
    cli_python = pathlib.Path(os.environ["AZURE_CLI"]).parent / "python"
    cli = subprocess.run(
        [str(cli_python), "-c",
         "from azure.cli.command_modules.backup.custom import secondary_region_map as m; print('\\n'.join(sorted(m)))"],
        capture_output=True, text=True, check=True,
    ).stdout.split()
    assert len(cli) > 50
    assert simulator == cli
