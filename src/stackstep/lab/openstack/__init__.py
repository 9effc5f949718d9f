"""Stand-in OpenStack services for the lab: Grizzly (2013.1) and Havana (2013.2).

``standin.py`` is a self-contained script shipped to the lab hosts in the
``openstack-lab-common`` RPM (it is never imported by stackstep); ``services.py``
describes each service (schema, ports, config files) and ``packages.py`` turns that
into the RDO package set that :class:`stackstep.lab.repos.LabRepos` builds.
"""
