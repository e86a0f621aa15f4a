"""What the 1B staging models load: the ISO list, the inputs object from the dbt config, the surrogate
catalogue's seed derivation."""

from __future__ import annotations

import pytest

from gatehouse.sites.dbt_steps import sources
from gatehouse.sites.dbt_steps.sources import SitesInputs


def test_iso_list_has_codes_without_polygons():
    codes = set(sources.iso_codes_table()["country_iso"])
    assert len(codes) == 252 and {"DE", "RE", "GF", "XK"} <= codes and "ZZ" not in codes


def test_inputs_from_config_parse_vars():
    inputs = SitesInputs.from_config({"seeds": "7", "catalogue_seed": "42", "outlet_catalogue_path": "",
                                      "gate_bundle_path": "", "policy_dir": "policies/sites",
                                      "countries_zip_path": ""})
    assert inputs.seed == 7 and inputs.catalogue_path is None and inputs.policy_dir.is_absolute()
    assert inputs.dbt_inputs()["sites_seeds"] == [7]
    assert SitesInputs.from_config({"seeds": "42,7,101,202"}).seeds == (42, 7, 101, 202)
    with pytest.raises(ValueError, match="one seed expected"):
        SitesInputs.from_config({"seeds": "42,7"}).seed
    with pytest.raises(ValueError, match="sites_seeds"):
        SitesInputs.from_config({"seeds": "-1"})
    with pytest.raises(ValueError, match="distinct"):
        SitesInputs.from_config({"seeds": "7,7"})


def test_catalogue_seed_derivation_known_answer():
    import hashlib
    import struct

    label = b"gatehouse.1A.catalogue_seed"
    expected = hashlib.sha256(struct.pack("<I", len(label)) + label + struct.pack("<QQ", 42, 7)).digest()[:8]
    assert sources.catalogue_seed_for(42, 7) == int.from_bytes(expected, "little")
    assert sources.catalogue_seed_for(42, 7) != sources.catalogue_seed_for(42, 101) != sources.catalogue_seed_for(43, 101)
