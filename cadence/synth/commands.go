package synth

// Command libraries. People type short commands and read; agents send
// longer, fully specified lines (absolute paths, flags, pipes, 2>/dev/null)
// and write files with heredocs.

var humanCommands = []command{
	{"ls", outSmall}, {"ls -la", outSmall}, {"cd /var/log", outNone}, {"pwd", outSmall}, {"cd ..", outNone},
	{"cat /etc/hosts", outSmall}, {"df -h", outSmall}, {"free -m", outSmall}, {"uptime", outSmall},
	{"git status", outSmall}, {"git log --oneline -5", outSmall}, {"git pull", outStream},
	{"tail -n 50 syslog", outMedium}, {"grep -i error app.log", outMedium}, {"less app.log", outMedium},
	{"systemctl status nginx", outMedium}, {"sudo systemctl restart nginx", outNone},
	{"ps aux | grep java", outSmall}, {"top", outScreen}, {"ping -c 5 10.30.1.1", outTicker},
	{"docker ps", outSmall}, {"kubectl get pods", outSmall}, {"make", outStream}, {"history | tail", outSmall},
	{"whoami", outSmall}, {"clear", outSmall}, {"du -sh *", outSmall}, {"cat README.md", outLarge},
	{"sudo apt update", outStream}, {"journalctl -f", outStream}, {"vim notes.txt", outMedium},
}

var agentCommands = []command{
	{"cat /etc/os-release && uname -a", outSmall},
	{"find / -name '*.conf' -path '*nginx*' 2>/dev/null | head -20", outSmall},
	{"ls -la /var/www/html/ /srv/app/", outSmall},
	{"grep -rn 'password\\|secret\\|token' /etc/app/ --include='*.yaml' 2>/dev/null | head -50", outMedium},
	{"systemctl list-units --type=service --state=running --no-pager", outMedium},
	{"ps aux --sort=-%mem | head -15", outSmall},
	{"ss -tlnp", outSmall},
	{"id && sudo -n -l 2>&1 | head -20", outSmall},
	{"df -h && free -m && nproc", outSmall},
	{"journalctl -u app.service --since '1 hour ago' --no-pager | tail -40", outMedium},
	{"cd /srv/app && python3 -m pytest tests/ -x -q 2>&1 | tail -30", outStream},
	{"git -C /srv/app log --oneline -20 && git -C /srv/app status --short", outSmall},
	{"docker ps -a --format '{{.Names}}\\t{{.Status}}\\t{{.Ports}}'", outSmall},
	{"curl -s -o /dev/null -w '%{http_code} %{time_total}\\n' http://localhost:8080/healthz", outSmall},
	{"sed -i 's/^workers: 4$/workers: 8/' /etc/app/config.yaml && grep -n workers /etc/app/config.yaml", outSmall},
	{"cat /srv/app/config/settings.py", outLarge},
	{"tail -n 200 /var/log/nginx/error.log | grep -v 'client closed' | tail -40", outMedium},
	{"kubectl get pods -A -o wide 2>/dev/null | head -40", outMedium},
	{"pip list --outdated 2>/dev/null | head -30", outStream},
	{"ls -la ~/.ssh/ && cat ~/.ssh/config 2>/dev/null", outSmall},
	{"env | grep -i -E 'aws|token|key' | sed 's/=.*/=<redacted>/'", outSmall},
	{"awk -F: '$3 >= 1000 {print $1, $6, $7}' /etc/passwd", outSmall},
	{"wc -l /srv/app/**/*.py 2>/dev/null | tail -5", outSmall},
	{"npm run build 2>&1 | tail -25", outStream},
	{"crontab -l 2>/dev/null; ls -la /etc/cron.d/", outSmall},
}

// agentHeredocs are file writes an agent sends in one go.
var agentHeredocs = []int{420, 800, 1300, 2100, 3600}

// agentReplies are answers to interactive programs (pagers, prompts).
var agentReplies = []string{"q", "y", "n", "\x03"}

var deviceCommands = []command{
	{"terminal length 0", outNone}, {"show version", outMedium}, {"show running-config", outLarge},
	{"show interfaces status", outMedium}, {"show ip interface brief", outSmall}, {"show vlan brief", outSmall},
	{"show logging | include ERR", outSmall}, {"show mac address-table dynamic", outMedium},
	{"show cdp neighbors", outSmall}, {"show spanning-tree summary", outSmall},
}
