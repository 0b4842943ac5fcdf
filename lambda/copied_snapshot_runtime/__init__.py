"""Runtime of the CopiedSnapshot custom resource: what runs inside the handler Lambda.

The pure modules (`rules`, `properties`, `decisions`) are also imported by the CDK construct, so that a
rule checked at synth time and at deploy time lives in one place.
"""
