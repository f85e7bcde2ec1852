chmod u+w data/total/all.txt; echo x >> data/total/all.txt
