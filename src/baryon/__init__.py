"""Baryon: a self-hosted application delivery platform that speaks the AWS Proton API."""

__version__ = "0.1.0"
