"""Providers for the resource types of the CDK CLI's bootstrap template, made in moto: the staging bucket and
its policy, the container assets repository, managed policies and the assets key's alias.

Attributes are the ones CloudFormation documents for each type ("AWS resource and property types reference":
AWS::S3::Bucket returns Arn, DomainName, RegionalDomainName; AWS::ECR::Repository returns Arn, RepositoryUri;
AWS::IAM::ManagedPolicy's Ref is its ARN). Properties moto keeps no use for here (lifecycle rules, bucket
encryption, scanning configuration) are accepted and not applied: assumed harmless for deploying assets.
"""

from __future__ import annotations

import json
from typing import Any

from copied_snapshot_local_cloud.cloudformation.providers import Change, Outcome, Provider, generated_name


def _bucket_attributes(change: Change, name: str) -> dict[str, Any]:
    region = change.stack.region
    return {
        "Arn": f"arn:aws:s3:::{name}",
        "DomainName": f"{name}.s3.amazonaws.com",
        "RegionalDomainName": f"{name}.s3.{region}.amazonaws.com",
        "WebsiteURL": f"http://{name}.s3-website-{region}.amazonaws.com",
    }


class S3Bucket:
    def create(self, change: Change) -> Outcome:
        name = str(change.properties.get("BucketName") or generated_name(change, 63).lower())
        s3 = change.client("s3")
        arguments: dict[str, Any] = {"Bucket": name}
        if change.stack.region != "us-east-1":  # us-east-1 takes no location constraint (S3 API Reference)
            arguments["CreateBucketConfiguration"] = {"LocationConstraint": change.stack.region}
        s3.create_bucket(**arguments)
        self._configure(change, name)
        return Outcome(name, _bucket_attributes(change, name))

    def update(self, change: Change) -> Outcome:
        assert change.physical_id is not None
        if change.properties.get("BucketName", change.physical_id) != change.physical_id:
            return self.create(change)  # a new name is a new bucket; the old one goes at cleanup
        self._configure(change, change.physical_id)
        return Outcome(change.physical_id, _bucket_attributes(change, change.physical_id))

    def delete(self, change: Change) -> None:
        s3 = change.client("s3")
        try:
            s3.delete_bucket(Bucket=change.physical_id)
        except s3.exceptions.NoSuchBucket:
            return

    def _configure(self, change: Change, name: str) -> None:
        s3 = change.client("s3")
        versioning = change.properties.get("VersioningConfiguration")
        if versioning:
            s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": versioning["Status"]})
        tags = change.properties.get("Tags")
        if tags:
            s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": tags})


def enforceable(policy: dict[str, Any]) -> dict[str, Any]:
    """The bucket policy moto is given: without its conditional Deny statements.

    moto checks an object request against the bucket policy ignoring Conditions (`Bucket.get_permission` in
    moto/s3/models.py, by `IAMPolicy.is_action_permitted`), so the bootstrap bucket's Deny of requests
    without TLS (`aws:SecureTransport` false) would deny every upload; the local endpoint stands in for
    AWS's HTTPS endpoints, where that statement denies nothing the CLI sends."""
    statements = policy.get("Statement", [])
    if isinstance(statements, dict):
        statements = [statements]
    kept = [s for s in statements if not (s.get("Effect") == "Deny" and "Condition" in s)]
    return {**policy, "Statement": kept}


class S3BucketPolicy:
    def create(self, change: Change) -> Outcome:
        bucket = str(change.properties["Bucket"])
        policy = enforceable(change.properties["PolicyDocument"])
        s3 = change.client("s3")
        if policy["Statement"]:
            s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
        else:
            s3.delete_bucket_policy(Bucket=bucket)
        return Outcome(bucket)

    def update(self, change: Change) -> Outcome:
        return self.create(change)

    def delete(self, change: Change) -> None:
        s3 = change.client("s3")
        try:
            s3.delete_bucket_policy(Bucket=change.physical_id)
        except s3.exceptions.NoSuchBucket:
            return


def _repository_attributes(repository: dict[str, Any]) -> dict[str, Any]:
    return {"Arn": repository["repositoryArn"], "RepositoryUri": repository["repositoryUri"]}


class EcrRepository:
    def create(self, change: Change) -> Outcome:
        name = str(change.properties.get("RepositoryName") or generated_name(change, 256).lower())
        ecr = change.client("ecr")
        repository = ecr.create_repository(
            repositoryName=name,
            imageTagMutability=change.properties.get("ImageTagMutability", "MUTABLE"),
        )["repository"]
        self._configure(change, name)
        return Outcome(
            name, {"Arn": repository["repositoryArn"], "RepositoryUri": repository["repositoryUri"]}
        )

    def update(self, change: Change) -> Outcome:
        assert change.physical_id is not None
        if change.properties.get("RepositoryName", change.physical_id) != change.physical_id:
            return self.create(change)
        self._configure(change, change.physical_id)
        [repository] = change.client("ecr").describe_repositories(repositoryNames=[change.physical_id])[
            "repositories"
        ]
        return Outcome(
            change.physical_id,
            {"Arn": repository["repositoryArn"], "RepositoryUri": repository["repositoryUri"]},
        )

    def delete(self, change: Change) -> None:
        ecr = change.client("ecr")
        try:
            ecr.delete_repository(repositoryName=change.physical_id, force=True)
        except ecr.exceptions.RepositoryNotFoundException:
            return

    def _configure(self, change: Change, name: str) -> None:
        policy = change.properties.get("RepositoryPolicyText")
        if policy:
            text = policy if isinstance(policy, str) else json.dumps(policy)
            change.client("ecr").set_repository_policy(repositoryName=name, policyText=text)


class IamManagedPolicy:
    def create(self, change: Change) -> Outcome:
        name = str(change.properties.get("ManagedPolicyName") or generated_name(change, 128))
        policy = change.client("iam").create_policy(
            PolicyName=name,
            Path=change.properties.get("Path", "/"),
            PolicyDocument=json.dumps(change.properties["PolicyDocument"]),
            Description=change.properties.get("Description", ""),
        )["Policy"]
        return Outcome(str(policy["Arn"]), {"PolicyArn": policy["Arn"]})

    def update(self, change: Change) -> Outcome:
        assert change.physical_id is not None
        iam = change.client("iam")
        iam.create_policy_version(
            PolicyArn=change.physical_id,
            PolicyDocument=json.dumps(change.properties["PolicyDocument"]),
            SetAsDefault=True,
        )
        return Outcome(change.physical_id, {"PolicyArn": change.physical_id})

    def delete(self, change: Change) -> None:
        iam = change.client("iam")
        try:
            for version in iam.list_policy_versions(PolicyArn=change.physical_id)["Versions"]:
                if not version["IsDefaultVersion"]:
                    iam.delete_policy_version(PolicyArn=change.physical_id, VersionId=version["VersionId"])
            iam.delete_policy(PolicyArn=change.physical_id)
        except iam.exceptions.NoSuchEntityException:
            return


class KmsAlias:
    def create(self, change: Change) -> Outcome:
        name = str(change.properties["AliasName"])
        change.client("kms").create_alias(AliasName=name, TargetKeyId=str(change.properties["TargetKeyId"]))
        return Outcome(name)

    def update(self, change: Change) -> Outcome:
        assert change.physical_id is not None
        if change.properties["AliasName"] != change.physical_id:
            return self.create(change)
        change.client("kms").update_alias(
            AliasName=change.physical_id, TargetKeyId=str(change.properties["TargetKeyId"])
        )
        return Outcome(change.physical_id)

    def delete(self, change: Change) -> None:
        kms = change.client("kms")
        try:
            kms.delete_alias(AliasName=change.physical_id)
        except kms.exceptions.NotFoundException:
            return


def bootstrap_providers() -> dict[str, Provider]:
    """The bootstrap template's types that the rest of the local cloud does not provide."""
    return {
        "AWS::S3::Bucket": S3Bucket(),
        "AWS::S3::BucketPolicy": S3BucketPolicy(),
        "AWS::ECR::Repository": EcrRepository(),
        "AWS::IAM::ManagedPolicy": IamManagedPolicy(),
        "AWS::KMS::Alias": KmsAlias(),
    }
