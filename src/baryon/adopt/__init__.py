"""Adopting what Proton left behind: its CloudFormation stacks and Terraform deployment repositories."""
