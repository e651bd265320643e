"""`kmeshctl render`: print the validated install manifests, offline.

The option declarations here are shared with `install` (kmeshctl/cli/cluster.py): use
the `...Option` aliases in its signature; `kmeshctl.params.install_params` checks them.
"""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from kmeshctl.cli.common import app, check_namespace_flags, print_yaml_documents
from kmeshctl.cli.conventions import flag_as_typed
from kmeshctl.cli.outpaths import FILE, check_input_path
from kmeshctl.errors import UsageError
from kmeshctl.params import (
    DEFAULT_IMAGE,
    DEFAULT_ISTIO_NAMESPACE,
    DEFAULT_KUBERNETES_VERSION,
    DEFAULT_NAMESPACE,
    XDS_ADDRESS_EXAMPLE,
    install_params,
)
from kmeshctl.render import parse_manifests, render_yaml
from kmeshctl.validate import crd_schemas_from_files, validate_offline


class ManifestFormat(str, Enum):
    yaml = "yaml"
    json = "json"


XdsAddressOption = Annotated[
    Optional[str],
    typer.Option(
        "--xds-address",
        metavar="HOST:PORT",
        help=f"istiod's xDS Service, e.g. {XDS_ADDRESS_EXAMPLE} (ASM: the istiod-<revision> Service).",
    ),
]
ClusterIdOption = Annotated[
    Optional[str],
    typer.Option("--cluster-id", metavar="ID", help="Id of this cluster as istiod knows it (ACK: the cluster id)."),
]
ImageOption = Annotated[str, typer.Option("--image", help="Node agent image.")]
NamespaceOption = Annotated[str, typer.Option("-n", "--namespace", help="Namespace kmeshctl creates for the node agent.")]
ModeOption = Annotated[str, typer.Option("--mode", metavar="dual-engine", help="Data-plane mode (only dual-engine).",
                                         autocompletion=lambda incomplete: ["dual-engine"])]
EnableBypassOption = Annotated[
    bool,
    typer.Option("--enable-bypass/--no-enable-bypass", help="Never redirect pods labelled kmesh.net/bypass=enabled."),
]
EnableBpfLogOption = Annotated[
    bool, typer.Option("--enable-bpf-log/--no-enable-bpf-log", help="Let the BPF programs write debug logs.")
]
IstioNamespaceOption = Annotated[
    str, typer.Option("--istio-namespace", help="Istio root namespace (istiod, the waypoint EnvoyFilters).")
]
KubernetesVersionOption = Annotated[
    str, typer.Option("--kubernetes-version", metavar="MAJOR.MINOR", help="Kubernetes schema version to validate against.")
]
NetworkOption = Annotated[
    str, typer.Option("--network", metavar="NAME", help="The nodes' network (Istio's NETWORK: for the "
                      "NETWORK routing preference and multi-network meshes; default: the default network).")
]
CrdFileOption = Annotated[
    Optional[list[Path]],
    typer.Option(
        "--crd-file",
        metavar="PATH",
        help="YAML file of CRDs to validate Istio kinds against (repeatable; offline).",
    ),
]
OutputOption = Annotated[ManifestFormat, typer.Option("-o", "--output", help="Manifest format: yaml or json.")]


def check_crd_files(paths: Optional[list[Path]]) -> None:
    """Each --crd-file an existing file, before anything (render, install)."""
    for path in paths or ():
        check_input_path(flag_as_typed("crd_file"), path, FILE, "give a YAML file of CRDs")


def print_manifests(objects: list[dict], output: ManifestFormat, yaml_text: str | None = None) -> None:
    """JSON: one v1 List. YAML: `yaml_text` when given (the rendered templates, with
    their comments; must be the text `objects` were parsed from), else dumped objects."""
    if output is ManifestFormat.json:
        typer.echo(json.dumps({"apiVersion": "v1", "kind": "List", "items": objects}, indent=2))
    elif yaml_text is not None:
        typer.echo(yaml_text, nl=False)
    else:
        print_yaml_documents(objects)


@app.command()
def render(
    xds_address: XdsAddressOption = None,
    cluster_id: ClusterIdOption = None,
    image: ImageOption = DEFAULT_IMAGE,
    namespace: NamespaceOption = DEFAULT_NAMESPACE,
    mode: ModeOption = "dual-engine",
    enable_bypass: EnableBypassOption = False,
    enable_bpf_log: EnableBpfLogOption = False,
    istio_namespace: IstioNamespaceOption = DEFAULT_ISTIO_NAMESPACE,
    kubernetes_version: KubernetesVersionOption = DEFAULT_KUBERNETES_VERSION,
    network: NetworkOption = "",
    crd_file: CrdFileOption = None,
    output: OutputOption = ManifestFormat.yaml,
) -> None:
    """Print the install manifests (validated strictly), without a cluster.

    Examples:

      kmeshctl render --xds-address istiod.istio-system.svc:15012 --cluster-id c1
      kmeshctl render --xds-address istiod:15012 --cluster-id c1 -o json
    """
    check_namespace_flags()
    check_crd_files(crd_file)
    if xds_address is None:
        raise UsageError(f"render is offline; pass --xds-address HOST:PORT (e.g. {XDS_ADDRESS_EXAMPLE})")
    params = install_params(
        xds_address, cluster_id, image=image, namespace=namespace, mode=mode, enable_bypass=enable_bypass,
        enable_bpf_log=enable_bpf_log, istio_namespace=istio_namespace, kubernetes_version=kubernetes_version,
        network=network,
    )
    crds = crd_schemas_from_files(crd_file)
    text = render_yaml(params)
    objects = parse_manifests(text)
    warn_unvalidated_custom_kinds(validate_offline(objects, params.kubernetes_version, crds))
    print_manifests(objects, output, yaml_text=text)


def warn_unvalidated_custom_kinds(kinds: list[str]) -> None:
    """One warning line on stderr naming the custom kinds validated without a schema
    (offline, no --crd-file); shared by `render` and offline `install --dry-run`."""
    if kinds:
        typer.secho(
            f"Warning: {', '.join(kinds)} not schema-validated (no CRD schemas offline); "
            "give --crd-file, or run install --dry-run with a reachable cluster",
            fg=typer.colors.YELLOW,
            err=True,
        )
