// Applies ACL lines ("principal|TOPIC|LITERAL|name|READ", one per line, '#' comments) through
// Kafka's Admin API, with only kafka-clients on the class path (the local stack's jars have no
// kafka-tools, hence no kafka-acls.sh). Java's source launcher runs it without a build step:
//
//   java -cp "$HOME/.cache/baton/kafka-4.1.1/libs/*" deploy/kafka/acl_apply.java admin.properties acls.txt
//
// admin.properties holds the admin client's connection (bootstrap.servers or
// bootstrap.controllers, security.protocol, sasl.mechanism, sasl.jaas.config). Creating an ACL
// that exists is a no-op, so it is re-runnable.
//
// An optional third file holds SCRAM users, "name|password" a line: each is created or its
// password replaced (SCRAM-SHA-512, 4096 iterations as at format time) before the ACLs are applied. `baton stack up`
// uses it for a stack formatted before its users existed and for parties a contract adds.

import java.io.FileInputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ScramCredentialInfo;
import org.apache.kafka.clients.admin.ScramMechanism;
import org.apache.kafka.clients.admin.UserScramCredentialAlteration;
import org.apache.kafka.clients.admin.UserScramCredentialUpsertion;
import org.apache.kafka.common.acl.AccessControlEntry;
import org.apache.kafka.common.acl.AclBinding;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.acl.AclPermissionType;
import org.apache.kafka.common.resource.PatternType;
import org.apache.kafka.common.resource.ResourcePattern;
import org.apache.kafka.common.resource.ResourceType;

public class AclApply {
    public static void main(String[] args) throws Exception {
        if (args.length != 2 && args.length != 3) {
            System.err.println(
                "usage: acl_apply.java <admin.properties> <acl lines file> [<scram users file>]");
            System.exit(2);
        }
        Properties config = new Properties();
        try (FileInputStream in = new FileInputStream(args[0])) {
            config.load(in);
        }
        List<AclBinding> acls = new ArrayList<>();
        int number = 0;
        for (String line : Files.readAllLines(Path.of(args[1]))) {
            number++;
            line = line.strip();
            if (line.isEmpty() || line.startsWith("#")) continue;
            String[] f = line.split("\\|");
            if (f.length != 5) {
                System.err.println(args[1] + ":" + number + ": expected 5 fields separated by |");
                System.exit(2);
            }
            String name = f[1].equals("CLUSTER") ? "kafka-cluster" : f[3];
            acls.add(new AclBinding(
                new ResourcePattern(ResourceType.valueOf(f[1]), name, PatternType.valueOf(f[2])),
                new AccessControlEntry(f[0], "*", AclOperation.valueOf(f[4]), AclPermissionType.ALLOW)));
        }
        List<UserScramCredentialAlteration> users = new ArrayList<>();
        if (args.length == 3) {
            number = 0;
            for (String line : Files.readAllLines(Path.of(args[2]))) {
                number++;
                if (line.isBlank()) continue;
                String[] f = line.strip().split("\\|", 2);
                if (f.length != 2) {
                    System.err.println(args[2] + ":" + number + ": expected name|password");
                    System.exit(2);
                }
                users.add(new UserScramCredentialUpsertion(
                    f[0], new ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 4096), f[1]));
            }
        }
        try (Admin admin = Admin.create(config)) {
            if (!users.isEmpty()) {
                admin.alterUserScramCredentials(users).all().get();
            }
            if (!acls.isEmpty()) {
                admin.createAcls(acls).all().get();
            }
        }
        System.out.println("applied " + users.size() + " SCRAM users, " + acls.size() + " ACLs");
    }
}
