from gatehouse.sites.freeze import evaluate_catalogue, guard_table
from gatehouse.sites.sources import SitesInputs, country_frame


def model(dbt, session):
    """1A freeze guard: the catalogue's 1A metrics against the frozen authority, one row per metric."""
    inputs = SitesInputs.from_config(dbt.config.get("sites_inputs"))
    catalogue = dbt.ref("stg_1a__outlet_catalogue").df()
    countries = dbt.ref("stg_geo__countries")
    places = dbt.ref("stg_geo__places")
    if inputs.catalogue_path is None:  # the surrogate's phi comes from regenerating it
        result = evaluate_catalogue(inputs, catalogue, country_frame(countries.df()), places.df())
    else:
        result = evaluate_catalogue(inputs, catalogue)
    return guard_table(result)
