"""Inventory loading: stackstep YAML and Ansible INI/YAML."""
